/**
 * Faults a simulator can inject, and the log of what it injected. Book faults (drop, duplicate, reorder,
 * bad-checksum) hit the next book update that someone receives and that a client in sync would notice (not an
 * OKX keep-alive); each is logged with the sequence ids involved, so a test can match it with the recorder's
 * `event`s. Transport faults (disconnect, stall, slow) act on the sockets and are applied by the client hub.
 */
import { TapeError } from "../../format/errors.js";

export const FAULT_KINDS = [
  "drop",
  "duplicate",
  "reorder",
  "bad-checksum",
  "disconnect",
  "stall",
  "slow",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const BOOK_FAULT_KINDS: ReadonlySet<FaultKind> = new Set(["drop", "duplicate", "reorder", "bad-checksum"]);

export function isBookFault(kind: FaultKind): boolean {
  return BOOK_FAULT_KINDS.has(kind);
}

export function isFaultKind(s: string): s is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(s);
}

export interface FaultRequest {
  kind: FaultKind;
  /** Book faults: the symbol whose next book update is hit (default: the next update of any symbol). */
  symbol?: string;
  /** stall: how long nothing is sent, ms (default 5000). */
  ms?: number;
  /** slow: how many messages are held back and then sent at once (default 100). */
  count?: number;
}

export interface ScheduledFault extends FaultRequest {
  /** When to inject it, ms after the simulator started. */
  atMs: number;
}

export interface InjectedFault {
  kind: FaultKind;
  /** The symbol of a book fault; "" for transport faults. */
  symbol: string;
  /** When it was injected, ms since the epoch. */
  time: number;
  /** The ids of the book updates involved: Binance `U`, `u` of each; OKX `prevSeqId`, `seqId` of each. */
  ids: bigint[];
  detail: string;
}

export const DEFAULT_STALL_MS = 5000;
export const DEFAULT_SLOW_COUNT = 100;

/**
 * `KIND[=N][@SECONDS]`: `drop@10` drops a book update 10 s after the start, `stall=3000@5` stalls for 3 s after
 * 5 s, `slow=500` holds 500 messages back at the start. N is ms for stall, a message count for slow.
 */
export function parseFault(text: string): ScheduledFault {
  const m = /^([a-z-]+)(?:=([0-9]+))?(?:@([0-9]+(?:\.[0-9]+)?))?$/.exec(text.trim());
  const kind = m?.[1] ?? "";
  if (m === null || !isFaultKind(kind)) {
    throw new TapeError(
      "E_TAPE_CONFIG",
      `bad fault ${JSON.stringify(text)}: expected KIND[=N][@SECONDS] with KIND one of ${FAULT_KINDS.join(", ")}`,
    );
  }
  const fault: ScheduledFault = { kind, atMs: Math.round(Number(m[3] ?? "0") * 1000) };
  if (m[2] !== undefined) {
    if (kind === "stall") fault.ms = Number(m[2]);
    else if (kind === "slow") fault.count = Number(m[2]);
    else throw new TapeError("E_TAPE_CONFIG", `bad fault ${text}: only stall and slow take =N`);
  }
  return fault;
}

/** Entries kept; counts go on beyond it. */
const MAX_LOG_ENTRIES = 10_000;

export class FaultLog {
  readonly entries: InjectedFault[] = [];
  private readonly counts = new Map<FaultKind, number>();

  constructor(private readonly onFault?: (f: InjectedFault) => void) {}

  record(kind: FaultKind, symbol: string, ids: bigint[], detail: string): InjectedFault {
    const f: InjectedFault = { kind, symbol, time: Date.now(), ids, detail };
    this.entries.push(f);
    if (this.entries.length > MAX_LOG_ENTRIES) this.entries.shift();
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    this.onFault?.(f);
    return f;
  }

  count(kind?: FaultKind): number {
    if (kind !== undefined) return this.counts.get(kind) ?? 0;
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
}

/** A book update about to be sent, as the fault queue sees it. */
export interface BookUpdate {
  symbol: string;
  /** Its ids, as `InjectedFault.ids` lists them. */
  ids: bigint[];
  /** For the log, e.g. "update 101..104". */
  label: string;
  /** A client in sync would not notice its loss (an OKX keep-alive): no fault is spent on it. */
  keepAlive: boolean;
  /** Someone receives it. */
  hasRecipients: boolean;
  send(): void;
  /** Sends it with a wrong checksum and says what changed (venues with checksums only). */
  sendCorrupted?: () => string;
}

interface Armed {
  req: FaultRequest;
  resolve(f: InjectedFault): void;
  reject(err: Error): void;
}

export class BookFaults {
  private armed: Armed[] = [];
  /** Reordered updates waiting for the next update of their symbol. */
  private readonly held = new Map<string, { update: BookUpdate; armed: Armed }>();

  constructor(private readonly log: FaultLog) {}

  /** Arms a book fault; the promise resolves when an update was hit. */
  arm(req: FaultRequest): Promise<InjectedFault> {
    const p = new Promise<InjectedFault>((resolve, reject) => this.armed.push({ req, resolve, reject }));
    // A fault nobody waits for (scheduled ones) must not become an unhandled rejection on close.
    p.catch(() => {});
    return p;
  }

  get pending(): number {
    return this.armed.length + this.held.size;
  }

  /** Sends an update, or applies the first armed fault that matches it. */
  route(u: BookUpdate): void {
    const held = this.held.get(u.symbol);
    if (held !== undefined) {
      this.held.delete(u.symbol);
      u.send();
      held.update.send();
      const f = this.log.record(
        "reorder",
        u.symbol,
        [...held.update.ids, ...u.ids],
        `${held.update.label} sent after ${u.label}`,
      );
      held.armed.resolve(f);
      return;
    }
    const i =
      u.keepAlive || !u.hasRecipients
        ? -1
        : this.armed.findIndex(
            (a) =>
              (a.req.symbol === undefined || a.req.symbol === u.symbol) &&
              (a.req.kind !== "bad-checksum" || u.sendCorrupted !== undefined),
          );
    const a = i < 0 ? undefined : this.armed.splice(i, 1)[0];
    if (a === undefined) {
      u.send();
      return;
    }
    switch (a.req.kind) {
      case "drop":
        a.resolve(this.log.record("drop", u.symbol, u.ids, `${u.label} not sent`));
        return;
      case "duplicate":
        u.send();
        u.send();
        a.resolve(this.log.record("duplicate", u.symbol, u.ids, `${u.label} sent twice`));
        return;
      case "reorder":
        this.held.set(u.symbol, { update: u, armed: a });
        return;
      case "bad-checksum": {
        const detail = u.sendCorrupted!();
        a.resolve(this.log.record("bad-checksum", u.symbol, u.ids, `${u.label}: ${detail}`));
        return;
      }
      default:
        a.reject(new Error(`${a.req.kind} is not a book fault`));
        u.send();
    }
  }

  /** Sends the updates held for a reorder as they are (the market stopped) and arms their reorders again. */
  release(): void {
    for (const { update, armed } of this.held.values()) {
      update.send();
      this.armed.unshift(armed);
    }
    this.held.clear();
  }

  /** Rejects every armed fault (the simulator closes). */
  cancel(reason: string): void {
    for (const a of this.armed) a.reject(new Error(reason));
    for (const { armed } of this.held.values()) armed.reject(new Error(reason));
    this.armed = [];
    this.held.clear();
  }
}
