/**
 * Binance USD-M futures (venue id `binance-usdm`): the streams and messages of Binance spot (trades, `bookTicker`,
 * `depth@100ms` diffs continued from a REST snapshot, `/fapi/v1/depth`), with the futures chain rule from
 * Binance's "how to manage a local order book correctly" (USD-M):
 * drop events with `u < lastUpdateId`; the first applied event has `U <= lastUpdateId <= u`; then each event's
 * `pu` (the previous event's final id) equals the `u` of the event before it. Update ids are not consecutive on
 * futures (`U` is not the previous `u + 1`), so only `pu` proves that nothing was missed. An event whose `pu` is
 * the snapshot's `lastUpdateId` also follows the snapshot directly (the snapshot was taken between two events).
 */
import type { FeedContext, FeedSelection, VenueUrls } from "../connector.js";
import { BinanceConnector, type DepthUpdate, type SymbolState } from "./binance.js";
import type { VenueEntry } from "./index.js";

export const BINANCE_USDM_URLS: VenueUrls = {
  ws: "wss://fstream.binance.com",
  rest: "https://fapi.binance.com",
};

/** The futures depth endpoint serves at most 1000 levels. */
export const BINANCE_USDM_SNAPSHOT_LIMIT = 1000;

export class BinanceUsdmConnector extends BinanceConnector {
  override readonly venue = "binance-usdm";
  protected override readonly depthPath = "/fapi/v1/depth";
  protected override readonly snapshotLimit = BINANCE_USDM_SNAPSHOT_LIMIT;

  constructor(selection: FeedSelection, urls: VenueUrls = BINANCE_USDM_URLS) {
    super(selection, urls);
  }

  /** USD-M sends its times in milliseconds: there is no choice to ask for. */
  protected override streamQuery(): string {
    return "";
  }

  protected override continueChain(st: SymbolState, u: DepthUpdate, ctx: FeedContext): void {
    const last = st.feed.lastSeq ?? -1n;
    if (st.fresh) {
      // Wholly before the snapshot: already in it.
      if (u.last < st.snapshotId) {
        ctx.counters.ignoredFrames++;
        return;
      }
      if (u.first > st.snapshotId && u.prev !== st.snapshotId) {
        st.feed.lose(
          ctx,
          "gap",
          `update ${u.first}..${u.last} (pu ${u.prev ?? "absent"}) does not continue snapshot ${st.snapshotId}`,
          u.first,
          u.at,
        );
        this.bufferUpdate(st, u, ctx);
        return;
      }
      this.apply(st, u, ctx);
      return;
    }
    if (u.last <= last) {
      // Not one seen lately: the numbering went back, and what follows would all be dropped as seen.
      if (st.feed.holds(u.last)) ctx.counters.duplicates++;
      else this.idsWentBack(st, u, last, ctx);
      return;
    }
    if (u.prev !== last) {
      st.feed.lose(
        ctx,
        "gap",
        `update ${u.first}..${u.last} has pu ${u.prev ?? "absent"}, previous u ${last}: updates missing`,
        u.first,
        u.at,
      );
      this.bufferUpdate(st, u, ctx);
      return;
    }
    this.apply(st, u, ctx);
  }

  protected override continueBuffered(
    st: SymbolState,
    updates: readonly DepthUpdate[],
    ctx: FeedContext,
    _recvNs: bigint | null,
  ): void {
    // The chain rule decides each one: before the snapshot dropped, the first across it applied, or a gap.
    for (const u of updates) {
      if (st.feed.synced) this.continueChain(st, u, ctx);
      else st.buffer.push(u);
    }
  }
}

export const VENUE: VenueEntry = {
  id: "binance-usdm",
  urls: BINANCE_USDM_URLS,
  example: "BTCUSDT",
  create: (selection, urls) => new BinanceUsdmConnector(selection, urls),
};
