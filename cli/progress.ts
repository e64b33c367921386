/**
 * Progress of long work on stderr: a bar redrawn in place on a terminal, a log line every few seconds otherwise.
 * Nothing is shown for work that finishes within the first second.
 */
import { formatBytes } from "./output.js";

export interface Progress {
  update(done: number, total: number): void;
  finish(): void;
}

export function progress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
  /** What follows the percentage (default: bytes done of total). */
  describe: (done: number, total: number) => string = (d, t) => `${formatBytes(d)} / ${formatBytes(t)}`,
): Progress {
  const started = Date.now();
  let lastDraw = 0;
  let drawn = false;
  const tty = stream.isTTY === true;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - started < 1000 || now - lastDraw < (tty ? 100 : 5000)) return;
      lastDraw = now;
      const pct = total > 0 ? Math.min(100, (100 * done) / total) : 100;
      const text = `${label} ${pct.toFixed(0).padStart(3)}% ${describe(done, total)}`;
      if (tty) {
        const width = 30;
        const fill = Math.round((width * pct) / 100);
        stream.write(`\r[${"#".repeat(fill)}${" ".repeat(width - fill)}] ${text}`);
        drawn = true;
      } else stream.write(`${new Date(now).toISOString()} ${text}\n`);
    },
    finish() {
      if (drawn) stream.write("\r\x1b[K");
    },
  };
}
