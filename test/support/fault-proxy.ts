/**
 * An HTTP proxy on 127.0.0.1 in front of the S3 emulator that counts the requests it forwards and injects the
 * faults a real S3 has: error statuses (503 Slow Down), slow responses, and bodies cut off mid-way.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Fault {
  /** Answer with this status and an S3 error body instead of forwarding. */
  status?: number;
  /** Wait this long before forwarding. */
  delayMs?: number;
  /** Forward, but close the connection after this many body bytes. */
  cutAfterBytes?: number;
  /** Forward at once, but pass the answer on only after this long: the server has acted, the client may not wait. */
  answerAfterMs?: number;
  /** Forward without the Range header, as a server that ignores ranges: the whole object comes back (200). */
  ignoreRange?: boolean;
  /** With `ignoreRange`: the answer without its Content-Length (chunked), so its size shows only as it comes. */
  chunked?: boolean;
  /** Forward the range moved on by this many bytes: the answer is a 206 of another part of the object. */
  shiftRange?: number;
  /** Answer with this ETag, as a server that ignored If-Match would for an object replaced since. */
  etag?: string;
}

export class FaultProxy {
  /** Requests seen, by method (GETs with a Range header count as `RANGE`). */
  readonly counts = { GET: 0, RANGE: 0, HEAD: 0, PUT: 0, OTHER: 0 };
  /** Answers held back (`answerAfterMs`) so far: the server had acted on those requests. */
  held = 0;
  /** The Range headers of the ranged GETs, in order. */
  readonly ranges: string[] = [];
  private readonly faults: Fault[] = [];
  private readonly completeFaults: Fault[] = [];
  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  /** Starts a proxy to `target` (`http://127.0.0.1:port`). */
  static async start(target: string): Promise<FaultProxy> {
    const to = new URL(target);
    let proxy: FaultProxy | null = null;
    const server = createServer((req, res) => proxy!.handle(req, res, to));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new FaultProxy(server, `http://127.0.0.1:${port}`);
    return proxy;
  }

  /** The next ranged GETs get these faults, one each, in order. */
  injectRangeFaults(...faults: Fault[]): void {
    this.faults.push(...faults);
  }

  /** The next CompleteMultipartUpload requests get these faults, one each, in order. */
  injectCompleteFaults(...faults: Fault[]): void {
    this.completeFaults.push(...faults);
  }

  /** Drops the faults not injected yet. */
  clearFaults(): void {
    this.faults.length = 0;
    this.completeFaults.length = 0;
  }

  resetCounts(): void {
    for (const k of Object.keys(this.counts) as (keyof FaultProxy["counts"])[]) this.counts[k] = 0;
    this.ranges.length = 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse, to: URL): void {
    const ranged = req.method === "GET" && req.headers.range !== undefined;
    if (ranged) {
      this.counts.RANGE++;
      this.ranges.push(req.headers.range!);
    } else if (req.method === "GET" || req.method === "HEAD" || req.method === "PUT")
      this.counts[req.method]++;
    else this.counts.OTHER++;
    const complete =
      req.method === "POST" && /[?&]uploadId=/.test(req.url ?? "") && !/partNumber=/.test(req.url ?? "");
    const fault = ranged ? this.faults.shift() : complete ? this.completeFaults.shift() : undefined;
    const forward = () => {
      if (fault?.status !== undefined) {
        req.resume();
        res.writeHead(fault.status, { "content-type": "application/xml" });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>`,
        );
        return;
      }
      const headers = { ...req.headers };
      if (fault?.ignoreRange === true) delete headers.range;
      if (fault?.shiftRange !== undefined) {
        const [from, to] = /^bytes=(\d+)-(\d+)$/
          .exec(headers.range ?? "")!
          .slice(1)
          .map(Number);
        headers.range = `bytes=${from! + fault.shiftRange}-${to! + fault.shiftRange}`;
      }
      const upstream = request(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers },
        (up) => {
          if (fault?.answerAfterMs !== undefined) {
            this.held++;
            up.pause();
            setTimeout(() => {
              if (res.destroyed) return void up.resume();
              res.writeHead(up.statusCode ?? 502, up.headers);
              up.pipe(res);
            }, fault.answerAfterMs);
            return;
          }
          const answer = { ...up.headers };
          if (fault?.chunked === true) delete answer["content-length"];
          if (fault?.etag !== undefined) answer.etag = fault.etag;
          res.writeHead(up.statusCode ?? 502, answer);
          if (fault?.cutAfterBytes === undefined) {
            up.pipe(res);
            return;
          }
          let sent = 0;
          up.on("data", (chunk: Buffer) => {
            const room = fault.cutAfterBytes! - sent;
            if (room > 0) res.write(chunk.subarray(0, room));
            sent += chunk.length;
            // Cut off: the client sees the connection close before Content-Length bytes came.
            if (sent >= fault.cutAfterBytes!) res.socket?.destroy();
          });
          up.on("end", () => res.end());
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    };
    if (fault?.delayMs !== undefined) setTimeout(forward, fault.delayMs);
    else forward();
  }
}
