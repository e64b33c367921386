/**
 * `npm run demo`: the life of the data in one run. Generates a realistic synthetic hour of trades, L2 book
 * updates and best bid/offer for several symbols, records it with TapeWriter into the dataset layout
 * (`<root>/<date>/<exchange>/<exchange>-<date>T<HH>.<capture>.tape`, written as `.tape.open`, sealed by an
 * atomic rename), then shows what `ticktape inspect`, `verify` and `cat` print about it.
 */
import { execFileSync } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { syntheticWorkload } from "../bench/synthetic.js";
import { mantissaToString } from "../bench/workload.js";
import { formatTime, type RecordInput, TapeWriter } from "../src/index.js";

const HOUR_NS = 3_600_000_000_000n;
const cli = join(dirname(fileURLToPath(import.meta.url)), "main.js");
const root = join(process.cwd(), "demo-data");

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m${text}\x1b[0m\n`);
}

function highest(levels: Map<number, number>): number {
  let v = Number.NEGATIVE_INFINITY;
  for (const p of levels.keys()) if (p > v) v = p;
  return v;
}
function lowest(levels: Map<number, number>): number {
  let v = Number.POSITIVE_INFINITY;
  for (const p of levels.keys()) if (p < v) v = p;
  return v;
}

async function main(): Promise<void> {
  say("1. Generating a synthetic hour of market data (fixed seed)…");
  const w = syntheticWorkload({ trades: 540_000, bookUpdates: 2_160_000, seed: 7 });
  const start = w.trades.ts[0]! - (w.trades.ts[0]! % HOUR_NS);
  const date = formatTime(start).slice(0, 10);
  const hour = formatTime(start).slice(11, 13);
  const file = join(root, date, "demo", `demo-${date}T${hour}.demo-host.tape`);
  await rm(root, { recursive: true, force: true });
  await mkdir(dirname(file), { recursive: true });

  say(`2. Recording it with TapeWriter to ${relative(process.cwd(), file)}`);
  const writer = await TapeWriter.create(file, {
    exchange: "demo",
    captureId: "demo-host",
    periodStart: start,
    periodEnd: start + HOUR_NS,
  });
  // Records arrive interleaved, in receive order, as the recorder would append them; best bid/offer records
  // are derived from each symbol's book after every book message.
  const books = w.symbols.map(() => ({
    bids: new Map<number, number>(),
    asks: new Map<number, number>(),
    bestBid: Number.NEGATIVE_INFINITY,
    bestAsk: Number.POSITIVE_INFINITY,
  }));
  let ti = 0;
  let bi = 0;
  let appended = 0;
  const t = w.trades;
  const b = w.book;
  while (ti < t.count || bi < b.count) {
    const takeTrade = bi >= b.count || (ti < t.count && t.ts[ti]! <= b.ts[bi]!);
    if (takeTrade) {
      const s = w.symbols[t.symbol[ti]!]!;
      const rec: RecordInput = {
        kind: "trade",
        symbol: s.name,
        ts: t.ts[ti]!,
        price: mantissaToString(t.priceMantissa[ti]!, s.priceScale),
        size: mantissaToString(t.sizeMantissa[ti]!, s.sizeScale),
        side: t.side[ti] === 1 ? "buy" : t.side[ti] === 2 ? "sell" : "unknown",
        tradeId: String(t.tradeId[ti]),
      };
      if (t.recvTs !== null) rec.recvTs = t.recvTs[ti]!;
      writer.append(rec);
      ti++;
      appended++;
      continue;
    }
    // One book message: the rows sharing this symbol, timestamp and sequence id.
    const sym = b.symbol[bi]!;
    const s = w.symbols[sym]!;
    const book = books[sym]!;
    const ts = b.ts[bi]!;
    const seq = b.seq[bi]!;
    if (b.snapshot[bi] === 1) {
      // A snapshot replaces the book.
      book.bids.clear();
      book.asks.clear();
      book.bestBid = Number.NEGATIVE_INFINITY;
      book.bestAsk = Number.POSITIVE_INFINITY;
    }
    while (bi < b.count && b.symbol[bi] === sym && b.ts[bi] === ts && b.seq[bi] === seq) {
      const side = b.side[bi] === 0 ? "bid" : "ask";
      const price = b.priceMantissa[bi]!;
      const size = b.sizeMantissa[bi]!;
      const levels = side === "bid" ? book.bids : book.asks;
      if (size === 0) levels.delete(price);
      else levels.set(price, size);
      // Keep the touch up to date; scan the side only when its best level goes away.
      if (side === "bid") {
        if (size > 0 && price > book.bestBid) book.bestBid = price;
        else if (size === 0 && price === book.bestBid) book.bestBid = highest(levels);
      } else if (size > 0 && price < book.bestAsk) book.bestAsk = price;
      else if (size === 0 && price === book.bestAsk) book.bestAsk = lowest(levels);
      const rec: RecordInput = {
        kind: "book",
        symbol: s.name,
        ts,
        side,
        price: mantissaToString(price, s.priceScale),
        size: mantissaToString(size, s.sizeScale),
        snapshot: b.snapshot[bi] === 1,
        seq: BigInt(seq),
      };
      if (b.recvTs !== null) rec.recvTs = b.recvTs[bi]!;
      writer.append(rec);
      bi++;
      appended++;
    }
    const { bestBid, bestAsk } = book;
    const bbo: RecordInput = { kind: "bbo", symbol: s.name, ts };
    if (Number.isFinite(bestBid)) {
      bbo.bidPrice = mantissaToString(bestBid, s.priceScale);
      bbo.bidSize = mantissaToString(book.bids.get(bestBid)!, s.sizeScale);
    }
    if (Number.isFinite(bestAsk)) {
      bbo.askPrice = mantissaToString(bestAsk, s.priceScale);
      bbo.askSize = mantissaToString(book.asks.get(bestAsk)!, s.sizeScale);
    }
    writer.append(bbo);
    appended++;
  }
  const sealed = await writer.seal();
  process.stdout.write(
    `   ${appended.toLocaleString("en-US")} records from ${formatTime(w.trades.ts[0]!)} to ${formatTime(w.trades.ts[w.trades.count - 1]!)}, sealed: ${sealed.bytes.toLocaleString("en-US")} bytes in ${sealed.blocks} blocks\n`,
  );

  const run = (...args: string[]) => {
    process.stdout.write(`\n$ ticktape ${args.map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" ")}\n`);
    process.stdout.write(execFileSync(process.execPath, [cli, ...args], { encoding: "utf8" }));
  };
  const rel = relative(process.cwd(), file);
  say("3. What `ticktape inspect` shows:");
  run("inspect", rel);
  say("4. Every CRC and the file digest, checked:");
  run("verify", rel);
  say("5. The first trades of BTC-USDT, exact, as NDJSON:");
  run("cat", rel, "--symbol", "BTC-USDT", "--kind", "trade", "--limit", "3");
  say(`Next: npm test, and ticktape --help. The demo data is in ${relative(process.cwd(), root)}/.`);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
