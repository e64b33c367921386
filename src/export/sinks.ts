/**
 * Where converted blocks go: one output file per sink, in Parquet, Arrow IPC, CSV or NDJSON. A sink writes to a
 * temporary name in the output folder and renames the file when it is complete, so a file under its final name is
 * always whole; `abort` removes the temporary file.
 */
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { writeFully } from "../common/write-fully.js";
import { type DecodedBlock, type Kind, recordReader, recordToJson, TapeError } from "../format/index.js";
import { ArrowTable, type ArrowTableOptions } from "./arrow-table.js";
import type { ExportFormat } from "./formats.js";
import { type ByteOutput, ParquetWriter } from "./parquet-writer.js";
import { ArrowIpcEncoder, BatchGatherer } from "./to-arrow.js";

export interface Sink {
  readonly path: string;
  write(block: DecodedBlock, exchange: string): Promise<void>;
  /** Completes the file under its final name; returns its rows and bytes. */
  close(): Promise<{ rows: number; bytes: number }>;
  /** Removes the unfinished file. */
  abort(): Promise<void>;
}

export async function openSink(
  format: ExportFormat,
  path: string,
  kind: Kind,
  options: ArrowTableOptions,
): Promise<Sink> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const file = await openOutput(path, tmp);
  const finish = async (bytes: number, rows: number) => {
    await rename(tmp, path).catch(ioError(path, `rename ${basename(tmp)} to its name`));
    return { rows, bytes };
  };
  const abort = async () => {
    await rm(tmp, { force: true });
  };
  switch (format) {
    case "parquet": {
      const gather = new BatchGatherer(new ArrowTable(kind, options));
      const writer = ParquetWriter.create(file, gather.table.schema);
      return {
        path,
        write: async (block, exchange) => {
          const batch = gather.add(block, exchange);
          if (batch !== null) await writer.write(batch);
        },
        close: async () => {
          const last = gather.flush();
          if (last !== null) await writer.write(last);
          const r = await writer.close();
          return finish(r.bytes, r.rows);
        },
        abort: async () => {
          await writer.close().catch(() => {});
          await abort();
        },
      };
    }
    case "arrow": {
      const gather = new BatchGatherer(new ArrowTable(kind, options));
      const encoder = new ArrowIpcEncoder(gather.table.schema);
      return byteSink(path, file, finish, abort, {
        write: async (block, exchange) => {
          const batch = gather.add(block, exchange);
          return batch === null ? new Uint8Array(0) : encoder.encode(batch);
        },
        end: async () => {
          const last = gather.flush();
          const tail = last === null ? new Uint8Array(0) : await encoder.encode(last);
          return Buffer.concat([tail, await encoder.finish()]);
        },
      });
    }
    case "csv": {
      const columns = csvColumns(kind);
      let first = true;
      return byteSink(path, file, finish, abort, {
        write: async (block, exchange) => {
          const head = first ? `${columns.join(",")}\n` : "";
          first = false;
          return Buffer.from(head + csvLines(block, exchange, columns), "utf8");
        },
        end: async () => Buffer.from(first ? `${columns.join(",")}\n` : "", "utf8"),
      });
    }
    case "ndjson":
      return byteSink(path, file, finish, abort, {
        write: async (block) => Buffer.from(ndjsonLines(block), "utf8"),
        end: async () => new Uint8Array(0),
      });
  }
}

/** A failure of the file system, as the `E_TAPE_IO` error of the output `path` (e.g. a disk full). */
const ioError =
  (path: string, what: string) =>
  (err: unknown): never => {
    throw new TapeError("E_TAPE_IO", `cannot ${what}: ${(err as Error).message}`, {
      file: path,
      cause: err,
    });
  };

/** The temporary file `tmp` of the output `path`, created empty. */
async function openOutput(path: string, tmp: string): Promise<ByteOutput> {
  const handle = await open(tmp, "w").catch(ioError(path, `create ${basename(tmp)}`));
  return {
    write: (data) => writeFully(handle, data, null).catch(ioError(path, "write")),
    close: () => handle.close().catch(ioError(path, "close")),
  };
}

/** A sink whose format turns each block into bytes appended to the file. */
function byteSink(
  path: string,
  file: ByteOutput,
  finish: (bytes: number, rows: number) => Promise<{ rows: number; bytes: number }>,
  abort: () => Promise<void>,
  encode: {
    write(block: DecodedBlock, exchange: string): Promise<Uint8Array>;
    end(): Promise<Uint8Array>;
  },
): Sink {
  let bytes = 0;
  let rows = 0;
  const append = async (data: Uint8Array) => {
    if (data.length === 0) return;
    await file.write(data);
    bytes += data.length;
  };
  return {
    path,
    write: async (block, exchange) => {
      await append(await encode.write(block, exchange));
      rows += block.header.rowCount;
    },
    close: async () => {
      await append(await encode.end());
      await file.close();
      return finish(bytes, rows);
    },
    abort: async () => {
      await file.close().catch(() => {});
      await abort();
    },
  };
}

/** Records as `ticktape cat` prints them: exact values, timestamps and ids as strings. */
function ndjsonLines(block: DecodedBlock): string {
  const read = recordReader(block);
  let out = "";
  for (let i = 0; i < block.header.rowCount; i++) out += `${JSON.stringify(recordToJson(read(i)))}\n`;
  return out;
}

/** CSV columns of a kind: the Arrow names, with exact decimal text (no float copies). */
export function csvColumns(kind: Kind): string[] {
  const fields = new ArrowTable(kind, { decimals: "exact" }).schema.fields.map((f) => f.name);
  return kind === "raw" ? [...fields, "dataBase64"] : fields;
}

/**
 * Rows as RFC 4180 CSV: timestamps as ns since the epoch, decimals as canonical text, absent values empty, an empty
 * text `""`; a raw message that is not UTF-8 goes to `dataBase64`.
 */
function csvLines(block: DecodedBlock, exchange: string, columns: readonly string[]): string {
  const read = recordReader(block);
  let out = "";
  for (let i = 0; i < block.header.rowCount; i++) {
    const json: Record<string, unknown> = { exchange, ...recordToJson(read(i)) };
    out += `${columns.map((c) => csvField(json[c])).join(",")}\n`;
  }
  return out;
}

function csvField(v: unknown): string {
  if (v === undefined || v === null) return "";
  const s = String(v);
  // An empty text is quoted: unquoted, it would read as an absent value.
  return s === "" || /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
