/**
 * The venue registries are found from the files of the connector and simulator folders: every venue has both, and
 * the command line lists them without naming any.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createConnector, VENUE_IDS, venueEntry } from "../../src/recorder/connectors/index.js";
import { simulatorEntry, startSimulator } from "../../src/recorder/simulators/index.js";

const cli = join(import.meta.dirname, "..", "..", "dist", "cli", "main.js");

describe("Binance's time unit", () => {
  it("is asked of spot streams in microseconds unless milliseconds are configured; USD-M has no choice", () => {
    const urlOf = (venue: "binance" | "binance-usdm", timeUnit?: "millisecond" | "microsecond") =>
      createConnector(venue, {
        symbols: ["BTCUSDT"],
        trades: true,
        book: true,
        bbo: true,
        ...(timeUnit === undefined ? {} : { timeUnit }),
      }).connections()[0]!.url;
    expect(urlOf("binance")).toMatch(
      /\/stream\?streams=btcusdt@trade\/btcusdt@depth@100ms\/btcusdt@bookTicker&timeUnit=MICROSECOND$/,
    );
    expect(urlOf("binance", "microsecond")).toMatch(/&timeUnit=MICROSECOND$/);
    expect(urlOf("binance", "millisecond")).not.toMatch(/timeUnit/);
    expect(urlOf("binance-usdm")).not.toMatch(/timeUnit/);
  });
});

describe("venue registries", () => {
  it("finds every connector module and its simulator", async () => {
    expect(VENUE_IDS).toEqual(["binance", "binance-usdm", "bybit", "coinbase", "deribit", "kraken", "okx"]);
    for (const venue of VENUE_IDS) {
      const entry = venueEntry(venue);
      expect(entry.id).toBe(venue);
      const sim = simulatorEntry(venue);
      expect(sim.venue).toBe(venue);
      expect(sim.defaultSymbols.length).toBeGreaterThan(0);
      const connector = createConnector(venue, {
        symbols: [entry.example],
        trades: true,
        book: true,
        bbo: true,
      });
      expect(connector.venue).toBe(venue);
      expect(connector.connections().length).toBeGreaterThan(0);
      const running = await startSimulator(venue, { symbols: [...sim.defaultSymbols], rate: 5 });
      expect(running.venue).toBe(venue);
      expect(running.examples().length).toBeGreaterThan(0);
      await running.close();
    }
    expect(() => venueEntry("nope")).toThrow(
      /unknown venue nope \(venues: binance, binance-usdm, bybit, coinbase, deribit, kraken, okx\)/,
    );
  });

  it("the built command lists the venues it found", () => {
    for (const cmd of ["ingest", "simulate"]) {
      const r = spawnSync(process.execPath, [cli, cmd, "--help"], { encoding: "utf8" });
      expect(r.status).toBe(0);
      for (const venue of VENUE_IDS) expect(r.stdout).toContain(venue);
    }
  });
});
