/**
 * Plays a capture file (docs/CAPTURE.md) to a client as a venue would have sent it: the frames in order, paced by
 * their receive times (scaled by a speed factor; speed 0 sends as fast as the client reads), and the REST
 * responses as answers to REST requests. Frames are streamed from the file for each client, so a day's capture
 * does not have to fit in memory; REST responses (snapshots: a few per connection) are kept to answer requests.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { readCapture } from "../capture.js";
import type { SimSocket } from "./client-hub.js";

interface StoredRest {
  path: string;
  /** The `symbol=` of its query, upper case ("" when none). */
  symbol: string;
  body: string;
  used: boolean;
}

function symbolOf(path: string): string {
  return (new URLSearchParams(path.split("?")[1] ?? "").get("symbol") ?? "").toUpperCase();
}

export class CapturePlayback {
  private constructor(
    readonly file: string,
    private readonly rest: StoredRest[],
    /** Frames in the file. */
    readonly frames: number,
  ) {}

  /** Reads the file once, for its REST responses and to fail early on a bad line. */
  static async load(file: string): Promise<CapturePlayback> {
    const rest: StoredRest[] = [];
    let frames = 0;
    for await (const m of readCapture(file)) {
      if (m.kind === "frame") frames++;
      else rest.push({ path: m.path, symbol: symbolOf(m.path), body: m.body, used: false });
    }
    return new CapturePlayback(file, rest, frames);
  }

  /**
   * The response to a GET of `path` (with query): the next unused one recorded for that path, else the next
   * unused one for the same `symbol=`, else the last one for the path or the symbol used again.
   */
  restBody(path: string): string | undefined {
    const symbol = symbolOf(path);
    const sameSymbol = (r: StoredRest) => symbol !== "" && r.symbol === symbol;
    const r =
      this.rest.find((x) => !x.used && x.path === path) ??
      this.rest.find((x) => !x.used && sameSymbol(x)) ??
      this.rest.findLast((x) => x.path === path) ??
      this.rest.findLast(sameSymbol);
    if (r === undefined) return undefined;
    r.used = true;
    return r.body;
  }

  /**
   * Sends the frames to `socket`. `gate` returns a promise while playback is paused. Returns the number of
   * frames sent (fewer than the file holds when the socket closed first).
   */
  async play(socket: SimSocket, speed: number, gate: () => Promise<void> | null): Promise<number> {
    let t0 = performance.now();
    let first: bigint | null = null;
    let sent = 0;
    // A long pause between two frames must not outlive the client (nor keep a closed simulator's process alive).
    const gone = new AbortController();
    socket.ws.once("close", () => gone.abort());
    try {
      for await (const m of readCapture(this.file)) {
        if (!socket.open) break;
        if (m.kind !== "frame") continue;
        const paused = gate();
        if (paused !== null) {
          const p0 = performance.now();
          await paused;
          t0 += performance.now() - p0;
        }
        if (speed > 0 && m.recvNs !== null) {
          first ??= m.recvNs;
          const wait = t0 + Number(m.recvNs - first) / 1e6 / speed - performance.now();
          if (wait >= 1) await sleep(wait, undefined, { signal: gone.signal });
        }
        socket.send(m.text);
        sent++;
        // Never more in flight than the socket's buffer allows: the file is read as fast as the client reads.
        if (socket.backlogged) await socket.settled();
      }
    } catch (err) {
      if (!gone.signal.aborted) throw err;
    }
    return sent;
  }
}
