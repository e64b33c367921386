/** What `inspect` shows: a summary of a tape computed from its header and block index alone (no block reads). */
import type { BlockHeader } from "./block.js";
import { CODECS } from "./codecs.js";
import type { TapeReader } from "./reader.js";
import type { Kind } from "./records.js";
import { CHECKPOINT_KIND_ID } from "./schema.js";

export interface KindSummary {
  kind: Kind;
  rows: number;
  blocks: number;
  storedBytes: number;
  rawBytes: number;
  bytesPerRecord: number;
}
export interface SymbolSummary {
  symbol: string;
  rows: number;
  storedBytes: number;
  rowsByKind: Partial<Record<Kind, number>>;
  minTs: bigint;
  maxTs: bigint;
}
export interface TapeSummary {
  file: string;
  bytes: number;
  version: string;
  exchange: string;
  captureId: string;
  periodStart: bigint;
  periodEnd: bigint;
  meta: Record<string, string>;
  sealed: boolean;
  /** Set when the file was read by a forward scan. */
  recovery: { reason: string; validEnd: number; droppedBytes: number } | null;
  rows: number;
  blocks: number;
  minTs: bigint | null;
  maxTs: bigint | null;
  /** Blocks per codec name. */
  codecs: Record<string, number>;
  kinds: KindSummary[];
  symbols: SymbolSummary[];
  /** Order-book checkpoint blocks (format 1.1): not records, so in none of the counts above. */
  checkpoints: { blocks: number; storedBytes: number };
  /** Bytes not in blocks: header, footer, trailer. */
  overheadBytes: number;
}

export function summarize(reader: TapeReader): TapeSummary {
  const blocks = reader.blocks.filter((b): b is BlockHeader & { kind: Kind } => b.kind !== null);
  const kinds = new Map<Kind, KindSummary>();
  const symbols = new Map<string, SymbolSummary>();
  const codecs: Record<string, number> = {};
  let minTs: bigint | null = null;
  let maxTs: bigint | null = null;
  let rows = 0;
  for (const b of blocks) {
    rows += b.rowCount;
    const codec = CODECS[b.codecId] ?? `codec ${b.codecId}`;
    codecs[codec] = (codecs[codec] ?? 0) + 1;
    if (minTs === null || b.minTs < minTs) minTs = b.minTs;
    if (maxTs === null || b.maxTs > maxTs) maxTs = b.maxTs;
    const k = kinds.get(b.kind) ?? {
      kind: b.kind,
      rows: 0,
      blocks: 0,
      storedBytes: 0,
      rawBytes: 0,
      bytesPerRecord: 0,
    };
    k.rows += b.rowCount;
    k.blocks += 1;
    k.storedBytes += b.length;
    k.rawBytes += b.rawLength;
    kinds.set(b.kind, k);
    const s = symbols.get(b.symbol) ?? {
      symbol: b.symbol,
      rows: 0,
      storedBytes: 0,
      rowsByKind: {},
      minTs: b.minTs,
      maxTs: b.maxTs,
    };
    s.rows += b.rowCount;
    s.storedBytes += b.length;
    s.rowsByKind[b.kind] = (s.rowsByKind[b.kind] ?? 0) + b.rowCount;
    if (b.minTs < s.minTs) s.minTs = b.minTs;
    if (b.maxTs > s.maxTs) s.maxTs = b.maxTs;
    symbols.set(b.symbol, s);
  }
  for (const k of kinds.values()) k.bytesPerRecord = k.storedBytes / k.rows;
  const checkpoints = { blocks: 0, storedBytes: 0 };
  let allBlockBytes = 0;
  for (const b of reader.blocks) {
    allBlockBytes += b.length;
    if (b.kindId === CHECKPOINT_KIND_ID) {
      checkpoints.blocks++;
      checkpoints.storedBytes += b.length;
    }
  }
  const h = reader.header;
  const r = reader.recovery;
  return {
    file: reader.name,
    bytes: reader.size,
    version: `${h.major}.${h.minor}`,
    exchange: h.exchange,
    captureId: h.captureId,
    periodStart: h.periodStart,
    periodEnd: h.periodEnd,
    meta: h.meta,
    sealed: reader.sealed,
    recovery:
      r === null ? null : { reason: r.reason.message, validEnd: r.validEnd, droppedBytes: r.droppedBytes },
    rows,
    blocks: blocks.length,
    minTs,
    maxTs,
    codecs,
    kinds: [...kinds.values()],
    symbols: [...symbols.values()],
    checkpoints,
    overheadBytes: reader.size - allBlockBytes,
  };
}
