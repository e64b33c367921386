/**
 * REST GETs for book snapshots, retried until they succeed or the recorder stops: a snapshot the connector asked
 * for is what ends a gap, so giving up is not an option; the pause grows (and honours `Retry-After` on 429/418,
 * which is how Binance says "you are over the request weight").
 */

export interface RestClientOptions {
  base: string;
  timeoutMs?: number;
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
      try {
        const res = await fetch(url, {
          signal: AbortSignal.any([this.stop.signal, AbortSignal.timeout(this.o.timeoutMs ?? 10_000)]),
        });
        const body = await res.text();
        if (res.ok) return body;
        const after = Number(res.headers.get("retry-after"));
        if ((res.status === 429 || res.status === 418) && after > 0) wait = Math.max(wait, after * 1000);
        this.o.onRetry?.(path, `HTTP ${res.status}: ${body.slice(0, 200)}`, attempt);
      } catch (err) {
        if (this.stop.signal.aborted) break;
        this.o.onRetry?.(path, (err as Error).message, attempt);
      }
      await sleep(wait * (0.75 + Math.random() / 2), this.stop.signal);
    }
    return null;
  }

  close(): void {
    this.stop.abort();
  }
}
