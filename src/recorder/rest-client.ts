/**
 * REST GETs for book snapshots, retried until they succeed or the recorder stops: a snapshot the connector asked
 * for is what ends a gap, so giving up is not an option; the pause grows (and honours `Retry-After` on 429/418,
 * which is how Binance says "you are over the request weight").
 */

import { readAtMost } from "../common/read-at-most.js";

export interface RestClientOptions {
  base: string;
  /** Deadline of one attempt, body included (default 10 s). */
  timeoutMs?: number;
  /** Largest body taken (default 64 MiB, as a frame): a bigger answer is a failed attempt, read no further. */
  maxBodyBytes?: number;
  /** Told about each failed attempt. */
  onRetry?(path: string, error: string, attempt: number): void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });

export class RestClient {
  private readonly stop = new AbortController();

  constructor(private readonly o: RestClientOptions) {}

  /** The body of a successful GET of `path`, or null once the client is closed. */
  async get(path: string): Promise<string | null> {
    const url = `${this.o.base.replace(/\/+$/, "")}${path}`;
    for (let attempt = 1; !this.stop.signal.aborted; attempt++) {
      let wait = Math.min(30_000, 250 * 2 ** Math.min(attempt - 1, 8));
      // One controller per attempt, aborted by our own timer or by close(): a signal combined with
      // `AbortSignal.any` from `AbortSignal.timeout` can stop firing once collected (a body that drips would then
      // be read forever).
      const attemptAbort = new AbortController();
      const timeoutMs = this.o.timeoutMs ?? 10_000;
      const timer = setTimeout(
        () => attemptAbort.abort(new Error(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onStop = () => attemptAbort.abort(new Error("stopped"));
      this.stop.signal.addEventListener("abort", onStop, { once: true });
      try {
        const res = await fetch(url, { signal: attemptAbort.signal });
        const body = await readBody(res, this.o.maxBodyBytes ?? 64 * 1024 * 1024);
        if (res.ok) return body;
        const after = Number(res.headers.get("retry-after"));
        if ((res.status === 429 || res.status === 418) && after > 0) wait = Math.max(wait, after * 1000);
        this.o.onRetry?.(path, `HTTP ${res.status}: ${body.slice(0, 200)}`, attempt);
      } catch (err) {
        if (this.stop.signal.aborted) break;
        const reason = attemptAbort.signal.aborted ? attemptAbort.signal.reason : err;
        this.o.onRetry?.(path, (reason as Error).message, attempt);
      } finally {
        clearTimeout(timer);
        this.stop.signal.removeEventListener("abort", onStop);
      }
      await sleep(wait * (0.75 + Math.random() / 2), this.stop.signal);
    }
    return null;
  }

  close(): void {
    this.stop.abort();
  }
}

/** The body as text, read no further than `max` bytes (more is an error: the attempt failed). */
async function readBody(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length"));
  if (declared > max) {
    await res.body?.cancel();
    throw new Error(`answer of ${declared} bytes, more than the ${max} taken`);
  }
  if (res.body === null) return "";
  const bytes = await readAtMost(res.body as unknown as AsyncIterable<Uint8Array>, max);
  if (bytes === null) throw new Error(`answer of more than the ${max} bytes taken`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8");
}
