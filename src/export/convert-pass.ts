/**
 * One unit of a conversion: the blocks of one symbol (of the whole dataset, or of one input file) routed to the
 * outputs planned for them. Passes write disjoint outputs, so they can run in any order and in parallel.
 */
import { type Kind, TapeError } from "../format/index.js";
import type { Batch } from "../reader/batches.js";
import type { Dataset } from "../reader/dataset.js";
import type { ArrowTableOptions } from "./arrow-table.js";
import type { ExportFormat } from "./formats.js";
import { openSink, type Sink } from "./sinks.js";

/** One output: where it goes and what it holds. */
export interface Output {
  path: string;
  kind: Kind;
  exchange: string;
  /** The symbol (split by symbol), or null (split by file). */
  symbol: string | null;
  /** The input file (split by file), or null. */
  source: string | null;
}

export interface ConvertedFile extends Output {
  rows: number;
  bytes: number;
}

/** Split by symbol: one symbol of every file. Split by file: the symbols of one file, one after the other. */
export type Pass = { symbol: string } | { file: string; symbols: string[] };

export interface PassSettings {
  format: ExportFormat;
  /**
   * Of each file read without a footer (a `.open` file), where its whole blocks ended when the conversion was
   * planned: blocks its writer appended since are left out, so that every pass converts the records planned for.
   */
  recoveredEnds: Record<string, number>;
  table: ArrowTableOptions;
  onCorrupt: "error" | "skip";
}

export interface PassResult {
  files: ConvertedFile[];
  /** Bytes of the `.tape` blocks read. */
  inputBytes: number;
  /** Where each damaged part left out starts (`path@offset`): passes over one file each meet its damage. */
  lost: string[];
}

/** Outputs are found by exchange, then the symbol (split by symbol) or the input file (split by file), then kind. */
export function outputKey(exchange: string, symbolOrFile: string, kind: Kind): string {
  return `${exchange}\u0000${symbolOrFile}\u0000${kind}`;
}

/** Stops a pass between two blocks (another pass failed). */
export class PassStopped extends Error {
  override readonly name = "PassStopped";
}

/** Where a batch's block (or, for a torn tail, the loss) starts in its file. */
function offsetOf(b: Batch): number {
  if (b.block !== null) return b.block.header.offset;
  return b.header?.offset ?? b.lost.offset ?? 0;
}

export async function runPass(
  dataset: Dataset,
  pass: Pass,
  outputs: ReadonlyMap<string, Output>,
  settings: PassSettings,
  /** After each block: its bytes and rows. */
  onBlock: (bytes: number, rows: number) => void,
  stopped: () => boolean = () => false,
): Promise<PassResult> {
  const result: PassResult = { files: [], inputBytes: 0, lost: [] };
  const open = new Map<string, { sink: Sink; output: Output }>();
  const listed = new Set(dataset.files.map((f) => f.path));
  /** Whether a block at `offset` of `path` is one the conversion planned for, not one appended to it since. */
  const planned = (path: string, offset: number) => {
    const end = settings.recoveredEnds[path];
    return end === undefined || offset < end;
  };
  const route = async (ds: Dataset, symbol: string, keyOf: (exchange: string, kind: Kind) => string) => {
    for await (const b of ds.batches({
      symbols: [symbol],
      onCorrupt: settings.onCorrupt,
      order: "written",
      // Planned for (unless appended since), read, and converted to nothing: done.
      onBlockWithoutRows: (file, h) => {
        if (planned(file.path, h.offset)) onBlock(h.length, 0);
      },
    })) {
      if (stopped()) throw new PassStopped("stopped");
      if (!planned(b.file.path, offsetOf(b))) continue;
      if (b.block === null) {
        result.lost.push(`${b.file.path}@${offsetOf(b)}`);
        // A damaged block was planned for: the progress counts it done, left out.
        if (b.header !== null) onBlock(b.header.length, 0);
        continue;
      }
      const kind = b.block.header.kind!;
      const key = keyOf(b.exchange, kind);
      const output = outputs.get(key);
      if (output === undefined) {
        // A file sealed since planning (read under its final name) may hold a pair that appeared after: left
        // out, as blocks appended to a file being written are.
        if (!listed.has(b.file.path)) continue;
        throw new TapeError("E_TAPE_STATE", `no output planned for ${key}`);
      }
      let entry = open.get(output.path);
      if (entry === undefined) {
        entry = { sink: await openSink(settings.format, output.path, kind, settings.table), output };
        open.set(output.path, entry);
      }
      await entry.sink.write(b.block, b.exchange);
      result.inputBytes += b.block.header.length;
      onBlock(b.block.header.length, b.block.header.rowCount);
    }
  };
  try {
    if ("symbol" in pass) {
      await route(dataset, pass.symbol, (exchange, kind) => outputKey(exchange, pass.symbol, kind));
    } else {
      const one = dataset.subset((f) => f.path === pass.file);
      for (const symbol of pass.symbols)
        await route(one, symbol, (exchange, kind) => outputKey(exchange, pass.file, kind));
    }
    for (const [path, { sink, output }] of open) {
      const r = await sink.close();
      open.delete(path);
      result.files.push({ ...output, rows: r.rows, bytes: r.bytes });
    }
  } catch (err) {
    await Promise.all([...open.values()].map((e) => e.sink.abort()));
    throw err;
  }
  return result;
}
