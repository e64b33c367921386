/**
 * What the connectors of venues that send a book's snapshot in the stream share (Bybit, Coinbase, Deribit, Kraken):
 * one `BookFeed` per symbol, every book of a closed connection out of sync, no REST, and a fresh snapshot by
 * subscribing the book again. A venue's connector adds its messages and its `resubscribe`.
 */
import { BookFeed } from "./book-feed.js";
import type { ConnectionPlan, FeedContext } from "./connector.js";
import { SymbolStates } from "./symbol-states.js";

export abstract class StreamBookConnector {
  protected readonly books: SymbolStates<BookFeed>;

  constructor(symbols: readonly string[]) {
    this.books = new SymbolStates(symbols, (s) => new BookFeed(s));
  }

  /** Asks for a fresh snapshot of one book (unsubscribe and subscribe it again, within the venue's limits). */
  protected abstract resubscribe(feed: BookFeed, ctx: FeedContext, nowNs: bigint | null): void;

  onOpen(_plan: ConnectionPlan, _recvNs: bigint | null, _ctx: FeedContext): void {
    // Each book starts with a snapshot in the stream: nothing to fetch.
  }

  onClose(plan: ConnectionPlan, recvNs: bigint | null, reason: string, ctx: FeedContext): void {
    for (const s of plan.symbols) {
      const feed = this.books.known(s);
      if (feed?.synced)
        feed.lose(ctx, "disconnect", `connection lost: ${reason}`, null, feed.lossStamp(ctx, recvNs));
    }
  }

  onRest(_path: string, _body: string, _recvNs: bigint | null, ctx: FeedContext): string {
    ctx.counters.ignoredFrames++;
    return "";
  }

  resync(reason: string, recvNs: bigint | null, ctx: FeedContext): void {
    for (const feed of this.books.values()) {
      if (!feed.synced) continue;
      feed.lose(ctx, "gap", reason, null, feed.lossStamp(ctx, recvNs));
      this.resubscribe(feed, ctx, recvNs);
    }
  }

  bookOf(symbol: string): BookFeed | undefined {
    return this.books.known(symbol);
  }

  allBooks(): Iterable<BookFeed> {
    return this.books.values();
  }
}
