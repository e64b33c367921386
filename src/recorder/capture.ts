/**
 * The capture format (docs/CAPTURE.md): JSON Lines, one received message per line, so that a session recorded by
 * anything (our recorder, a peer's tool, a script) can be replayed through the connectors. A line is one of
 * - a WebSocket text frame exactly as received (no receive time);
 * - `{"recv_ns":"<integer>","frame":"<text>"}`: a frame with its receive time in ns since the epoch;
 * - `{"recv_ns":"<integer>","rest":"<path and query>","body":"<text>"}`: a REST response.
 * A line is a wrapper when it is a JSON object with a `recv_ns` member; no exchange sends one.
 *
 * `raw` records of a tape use the same texts: a frame's bytes, or for a REST response `{"rest":…,"body":…}`
 * (the receive time is the record's `recvTs`).
 */
import { isUtf8 } from "node:buffer";
import { createReadStream } from "node:fs";
import { TapeError } from "../format/errors.js";
import { MAX_TS } from "../format/kind-buffer.js";

export interface CapturedFrame {
  kind: "frame";
  recvNs: bigint | null;
  text: string;
  /** The text's UTF-8 bytes, when the receiver has them (the raw record takes them instead of encoding again). */
  bytes?: Uint8Array;
  /** The live socket it came from (`FeedContext.socket`); absent in a capture. */
  socket?: number;
}
export interface CapturedRest {
  kind: "rest";
  recvNs: bigint | null;
  /** Path and query of the request, e.g. `/api/v3/depth?symbol=BTCUSDT&limit=1000`. */
  path: string;
  body: string;
}
export type CapturedMessage = CapturedFrame | CapturedRest;

/** A line longer than this is refused: a REST snapshot of 5000 levels a side is well under 1 MiB. */
export const MAX_CAPTURE_LINE_BYTES = 64 * 1024 * 1024;

const RECV_NS = /^[0-9]{1,20}$/;

function captureError(message: string, file: string, line: number): TapeError {
  return new TapeError("E_TAPE_CAPTURE", `line ${line}: ${message}`, { file });
}

/**
 * What a JSON value is, briefly: the line's text did not show it (a member name written with escapes), and the
 * value may be nested too deeply to print.
 */
function kindOfValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (v === null || typeof v === "number" || typeof v === "boolean") return String(v);
  return Array.isArray(v) ? "an array" : "an object";
}

/** Parses one line; `file` and `line` locate errors. Empty lines are not messages: the caller skips them. */
export function parseCaptureLine(text: string, file = "capture", line = 0): CapturedMessage {
  if (!text.includes('"recv_ns"')) return { kind: "frame", recvNs: null, text };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // Not JSON at all: a text frame that happens to contain the word.
    return { kind: "frame", recvNs: null, text };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v) || !("recv_ns" in v)) {
    return { kind: "frame", recvNs: null, text };
  }
  const o = v as Record<string, unknown>;
  const recv = o.recv_ns;
  if (typeof recv !== "string" || !RECV_NS.test(recv)) {
    // As written: a JSON number would be shown rounded to a double.
    const written = /"recv_ns"\s*:\s*([^,}]{1,40})/.exec(text)?.[1]?.trim() ?? kindOfValue(recv);
    throw captureError(
      `recv_ns must be a string of decimal digits (ns since the epoch), got ${written}`,
      file,
      line,
    );
  }
  const recvNs = BigInt(recv);
  if (recvNs > MAX_TS)
    throw captureError(`recv_ns ${recv} is beyond 2^63 - 1 ns (the year 2262)`, file, line);
  const keys = Object.keys(o).sort().join(",");
  if (keys === "frame,recv_ns") {
    if (typeof o.frame !== "string") throw captureError("frame must be a string", file, line);
    return { kind: "frame", recvNs, text: o.frame };
  }
  if (keys === "body,recv_ns,rest") {
    if (typeof o.rest !== "string" || !o.rest.startsWith("/")) {
      throw captureError('rest must be the request path and query, starting with "/"', file, line);
    }
    if (typeof o.body !== "string") throw captureError("body must be a string", file, line);
    return { kind: "rest", recvNs, path: o.rest, body: o.body };
  }
  throw captureError(
    `a recv_ns line holds either frame or rest and body, and nothing else (it has ${keys})`,
    file,
    line,
  );
}

/** The capture line of a message (the wrapper form when the receive time is known). */
export function formatCaptureLine(m: CapturedMessage): string {
  if (m.kind === "frame") {
    return m.recvNs === null ? m.text : JSON.stringify({ recv_ns: m.recvNs.toString(), frame: m.text });
  }
  return JSON.stringify({ recv_ns: (m.recvNs ?? 0n).toString(), rest: m.path, body: m.body });
}

/** The bytes a `raw` record holds for a message. */
export function rawText(m: CapturedMessage): string {
  return m.kind === "frame" ? m.text : JSON.stringify({ rest: m.path, body: m.body });
}

/** The message a `raw` record holds (the inverse of `rawText`). */
export function messageOfRaw(text: string, recvNs: bigint | null): CapturedMessage {
  if (text.startsWith('{"rest":')) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      if (typeof o.rest === "string" && typeof o.body === "string" && Object.keys(o).length === 2) {
        return { kind: "rest", recvNs, path: o.rest, body: o.body };
      }
    } catch {
      // fall through: a frame
    }
  }
  return { kind: "frame", recvNs, text };
}

/**
 * Reads a capture file message by message, without holding more than one line (bounded by
 * `MAX_CAPTURE_LINE_BYTES`) beyond the read buffer. A final line without a newline is read too.
 */
export async function* readCapture(
  file: string,
  maxLineBytes = MAX_CAPTURE_LINE_BYTES,
): AsyncGenerator<CapturedMessage & { line: number }> {
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let line = 0;
  const emit = (bytes: Buffer): (CapturedMessage & { line: number }) | null => {
    line++;
    let text = bytes.toString("utf8");
    // A WebSocket text frame is UTF-8: bytes that are not (they decode to U+FFFD) were damaged after they were
    // received.
    if (text.includes("\uFFFD") && !isUtf8(bytes)) throw captureError("not valid UTF-8", file, line);
    // A byte order mark some editors put at the start of a file is not part of the first message.
    if (line === 1 && text.startsWith("\uFEFF")) text = text.slice(1);
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (text.trim() === "") return null;
    try {
      return { ...parseCaptureLine(text, file, line), line };
    } catch (err) {
      // Whatever went wrong with a line is that line's error, not the file's: named by its number.
      if (err instanceof TapeError) throw err;
      throw captureError(`cannot be read: ${(err as Error).message}`, file, line);
    }
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        if (nl === -1) break;
        const part = chunk.subarray(start, nl);
        if (carryBytes + part.length > maxLineBytes) {
          throw captureError(`longer than ${maxLineBytes} bytes`, file, line + 1);
        }
        const whole = carry.length === 0 ? part : Buffer.concat([...carry, part]);
        carry = [];
        carryBytes = 0;
        const m = emit(whole);
        if (m !== null) yield m;
        start = nl + 1;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        carryBytes += rest.length;
        if (carryBytes > maxLineBytes)
          throw captureError(`longer than ${maxLineBytes} bytes`, file, line + 1);
        carry.push(Buffer.from(rest));
      }
    }
  } catch (err) {
    if (err instanceof TapeError) throw err;
    throw new TapeError("E_TAPE_IO", `cannot read: ${(err as Error).message}`, { file, cause: err });
  } finally {
    stream.destroy();
  }
  if (carryBytes > 0) {
    const m = emit(Buffer.concat(carry));
    if (m !== null) yield m;
  }
}
