/**
 * The JSON form of an exact record, used by `ticktape cat`, the fixtures and anything that exchanges records as
 * text: timestamps and sequence ids as decimal strings (JSON numbers cannot hold 64-bit integers exactly),
 * decimals as their canonical strings, raw data as UTF-8 text (`data`) or, when not valid UTF-8, base64
 * (`dataBase64`). `recordFromJson` reverses it exactly.
 */
import { TapeValueError } from "./errors.js";
import type { RawRecord, TapeRecord } from "./records.js";

export type JsonRecord = Record<string, string | boolean>;

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const BIGINT_FIELDS = new Set(["ts", "recvTs", "seq", "seqBefore", "seqAfter"]);

export function recordToJson(rec: TapeRecord): JsonRecord {
  const out: JsonRecord = {};
  for (const [k, v] of Object.entries(rec)) {
    if (k === "data") {
      const bytes = v as Uint8Array;
      try {
        out["data"] = UTF8.decode(bytes);
      } catch {
        out["dataBase64"] = Buffer.from(bytes).toString("base64");
      }
    } else out[k] = typeof v === "bigint" ? v.toString() : (v as string | boolean);
  }
  return out;
}

export function recordFromJson(json: JsonRecord): TapeRecord {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    if (BIGINT_FIELDS.has(k)) {
      if (typeof v !== "string" || !/^-?\d+$/.test(v))
        throw new TapeValueError("expected an integer string", k);
      out[k] = BigInt(v);
    } else if (k === "data") out["data"] = new TextEncoder().encode(String(v));
    else if (k === "dataBase64") out["data"] = new Uint8Array(Buffer.from(String(v), "base64"));
    else out[k] = v;
  }
  if (out["kind"] === "raw" && !((out as Partial<RawRecord>).data instanceof Uint8Array)) {
    throw new TapeValueError("raw record without data", "data");
  }
  return out as unknown as TapeRecord;
}
