/**
 * The venues the recorder speaks, by venue id: every module of this folder that exports a `VENUE` entry. Adding a
 * venue is adding its connector file here (and its simulator in ../simulators): nothing else names the venues.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Connector, FeedSelection, VenueUrls } from "../connector.js";
import { modulesExporting } from "../venue-modules.js";

export interface VenueEntry {
  /** The venue id of configurations, commands and file names, e.g. `binance-usdm`. */
  id: string;
  /** Production URLs; every one can be overridden in the configuration. */
  urls: VenueUrls;
  /** Symbols in the venue's own spelling, as an example for help texts. */
  example: string;
  create(selection: FeedSelection, urls: VenueUrls): Connector;
}

/** A venue id: one of `VENUE_IDS` (checked with `isVenueId`). */
export type VenueId = string;

const entries = await modulesExporting<VenueEntry>(dirname(fileURLToPath(import.meta.url)), "VENUE");

export const VENUES: ReadonlyMap<VenueId, VenueEntry> = new Map(
  entries.sort((a, b) => (a.id < b.id ? -1 : 1)).map((e) => [e.id, e]),
);
export const VENUE_IDS: readonly VenueId[] = [...VENUES.keys()];

export function isVenueId(v: string): v is VenueId {
  return VENUES.has(v);
}

/** The entry of a venue; an unknown id is a programming error here (configurations are checked before). */
export function venueEntry(venue: VenueId): VenueEntry {
  const entry = VENUES.get(venue);
  if (entry === undefined) throw new Error(`unknown venue ${venue} (venues: ${VENUE_IDS.join(", ")})`);
  return entry;
}

export function createConnector(
  venue: VenueId,
  selection: FeedSelection,
  urls: Partial<VenueUrls> = {},
): Connector {
  const entry = venueEntry(venue);
  return entry.create(selection, { ...entry.urls, ...urls });
}
