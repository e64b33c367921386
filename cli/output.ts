/** Printing for the commands: JSON that keeps bigints exact, human sizes, and errors with their codes. */
import { TapeError } from "../src/index.js";

/** JSON with bigints as decimal strings and byte arrays as UTF-8 text (or base64 when not valid UTF-8). */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v), indent);
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** Left-aligned table with a header row, for humans. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Reports an error on stderr and sets a failing exit code; TapeErrors print their code. */
export function reportError(err: unknown): void {
  if (err instanceof TapeError) process.stderr.write(`ticktape: ${err.code}: ${err.message}\n`);
  else if (
    err instanceof Error &&
    "code" in err &&
    typeof err.code === "string" &&
    err.code.startsWith("E_")
  ) {
    process.stderr.write(`ticktape: ${err.code}: ${err.message}\n`);
  } else
    process.stderr.write(`ticktape: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 2;
}

/** Writes to stdout, waiting when the pipe is full; stops quietly when the reader went away (EPIPE). */
export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) {
    await new Promise<void>((resolve) => process.stdout.once("drain", resolve));
  }
}
