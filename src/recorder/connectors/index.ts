/** The venues the recorder speaks, by venue id. Adding a venue: one connector file here and its simulator. */
import type { Connector, FeedSelection, VenueUrls } from "../connector.js";
import { BINANCE_URLS, BinanceConnector } from "./binance.js";
import { BINANCE_USDM_URLS, BinanceUsdmConnector } from "./binance-usdm.js";
import { OKX_URLS, OkxConnector } from "./okx.js";

export interface VenueEntry {
  /** Production URLs; every one can be overridden in the configuration. */
  urls: VenueUrls;
  /** Symbols in the venue's own spelling, as an example for help texts. */
  example: string;
  create(selection: FeedSelection, urls: VenueUrls): Connector;
}

export const VENUES = {
  binance: {
    urls: BINANCE_URLS,
    example: "BTCUSDT",
    create: (s, u) => new BinanceConnector(s, u),
  },
  "binance-usdm": {
    urls: BINANCE_USDM_URLS,
    example: "BTCUSDT",
    create: (s, u) => new BinanceUsdmConnector(s, u),
  },
  okx: {
    urls: OKX_URLS,
    example: "BTC-USDT",
    create: (s, u) => new OkxConnector(s, u),
  },
} satisfies Record<string, VenueEntry>;

export type VenueId = keyof typeof VENUES;
export const VENUE_IDS = Object.keys(VENUES) as VenueId[];

export function isVenueId(v: string): v is VenueId {
  return Object.hasOwn(VENUES, v);
}

export function createConnector(
  venue: VenueId,
  selection: FeedSelection,
  urls: Partial<VenueUrls> = {},
): Connector {
  const entry: VenueEntry = VENUES[venue];
  return entry.create(selection, { ...entry.urls, ...urls });
}
