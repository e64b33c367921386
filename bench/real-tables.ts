/**
 * Loads the real recorded tables (`<market>.trades.csv.zst`, `<market>.l2.csv.zst`) into a Workload.
 * Decimal strings are parsed digit by digit into mantissas at the market's scale (never through a
 * float), and timestamps into exact int64 ns. Each market is one symbol; markets are concatenated in
 * name order and every file keeps its row order.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { decompress } from "zstd-napi";
import type { BookTable, SymbolInfo, TradeTable, Workload } from "./workload.js";

type Kind = "trades" | "l2";
type Role = "ts" | "recv" | "side" | "price" | "size" | "id" | "snap" | "skip";

const FILE_NAME = /^(.+)\.(trades|l2)\.csv\.zst$/;
const DEFAULT_COLUMNS: Record<Kind, string[]> = {
  trades: ["ts_ns", "price", "size", "side", "trade_id"],
  l2: ["ts_ns", "local_ts_ns", "side", "price", "size", "is_snapshot"],
};
const ROLE_OF: Record<string, Role> = {
  ts_ns: "ts",
  local_ts_ns: "recv",
  side: "side",
  price: "price",
  size: "size",
  trade_id: "id",
  is_snapshot: "snap",
};
const REQUIRED: Record<Kind, Role[]> = {
  trades: ["ts", "price", "size", "side"],
  l2: ["ts", "recv", "side", "price", "size"],
};

const NL = 10;
const CR = 13;
const COMMA = 44;
const DOT = 46;
const MINUS = 45;
const ZERO = 48;

interface Layout {
  roles: Role[];
  /** Offset of the first data line. */
  start: number;
}

interface Market {
  name: string;
  files: Partial<Record<Kind, string>>;
  rows: Record<Kind, number>;
  priceScale: number;
  sizeScale: number;
}

/** `<repo>/../shared/realdata/tables`, the repo root being the nearest directory above with a package.json. */
export function realDataDefaultDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("package.json not found above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return path.resolve(dir, "../shared/realdata/tables");
}

export async function loadRealTables(dir: string): Promise<Workload | null> {
  if (!existsSync(dir)) return null;
  const byName = new Map<string, Market>();
  for (const entry of readdirSync(dir).sort()) {
    const m = FILE_NAME.exec(entry);
    if (m === null) continue;
    const name = m[1]!;
    let market = byName.get(name);
    if (market === undefined) {
      market = { name, files: {}, rows: { trades: 0, l2: 0 }, priceScale: 0, sizeScale: 0 };
      byName.set(name, market);
    }
    market.files[m[2] as Kind] = path.join(dir, entry);
  }
  const markets = [...byName.values()];

  // First pass: row counts and the decimals each market needs. Buffers are dropped between files (and
  // decompressed again below) so memory stays at one file's text.
  for (const market of markets) {
    for (const kind of ["trades", "l2"] as const) {
      const file = market.files[kind];
      if (file === undefined) continue;
      const text = readText(file);
      const layout = layoutOf(text, kind, file);
      const scan = scanFile(text, layout);
      market.rows[kind] = scan.rows;
      market.priceScale = Math.max(market.priceScale, scan.priceDecimals);
      market.sizeScale = Math.max(market.sizeScale, scan.sizeDecimals);
    }
  }

  let nTrades = 0;
  let nBook = 0;
  for (const market of markets) {
    nTrades += market.rows.trades;
    nBook += market.rows.l2;
  }
  const trades: TradeTable = {
    count: nTrades,
    symbol: new Uint16Array(nTrades),
    ts: new BigInt64Array(nTrades),
    recvTs: null,
    priceMantissa: new Float64Array(nTrades),
    sizeMantissa: new Float64Array(nTrades),
    side: new Uint8Array(nTrades),
    tradeId: new Float64Array(nTrades),
  };
  const book: BookTable = {
    count: nBook,
    symbol: new Uint16Array(nBook),
    ts: new BigInt64Array(nBook),
    recvTs: new BigInt64Array(nBook),
    side: new Uint8Array(nBook),
    priceMantissa: new Float64Array(nBook),
    sizeMantissa: new Float64Array(nBook),
    snapshot: new Uint8Array(nBook),
    seq: new Float64Array(nBook).fill(-1),
  };

  const symbols: SymbolInfo[] = [];
  let ti = 0;
  let bi = 0;
  for (const market of markets) {
    const sym = symbols.length;
    symbols.push({ name: market.name, priceScale: market.priceScale, sizeScale: market.sizeScale });
    for (const kind of ["trades", "l2"] as const) {
      const file = market.files[kind];
      if (file === undefined) continue;
      const text = readText(file);
      const layout = layoutOf(text, kind, file);
      const first = kind === "trades" ? ti : bi;
      const rows = parseFile(text, layout, kind, file, market, sym, kind === "trades" ? trades : book, first);
      if (rows !== market.rows[kind]) throw new Error(`${file}: ${rows} rows, expected ${market.rows[kind]}`);
      if (kind === "trades") ti += rows;
      else bi += rows;
    }
  }

  return { label: `real tables (${markets.length} markets)`, symbols, trades, book };
}

function readText(file: string): Buffer {
  return decompress(readFileSync(file));
}

/** Column roles from the header line when there is one, else the documented column order. */
function layoutOf(text: Buffer, kind: Kind, file: string): Layout {
  const first = text[0];
  const hasHeader = first !== undefined && first !== MINUS && (first < ZERO || first > ZERO + 9);
  let names = DEFAULT_COLUMNS[kind];
  let start = 0;
  if (hasHeader) {
    let end = text.indexOf(NL);
    start = end < 0 ? text.length : end + 1;
    if (end < 0) end = text.length;
    if (end > 0 && text[end - 1] === CR) end--;
    names = text.toString("latin1", 0, end).split(",");
  }
  const roles = names.map((n) => ROLE_OF[n.trim()] ?? "skip");
  for (const need of REQUIRED[kind]) {
    if (!roles.includes(need)) throw new Error(`${file}: no column for ${need} in ${names.join(",")}`);
  }
  if (kind === "trades") {
    // Trades carry no receive time; a stray column is ignored rather than half-filled.
    for (let i = 0; i < roles.length; i++) if (roles[i] === "recv" || roles[i] === "snap") roles[i] = "skip";
  }
  return { roles, start };
}

function scanFile(
  text: Buffer,
  layout: Layout,
): { rows: number; priceDecimals: number; sizeDecimals: number } {
  const { roles } = layout;
  let rows = 0;
  let priceDecimals = 0;
  let sizeDecimals = 0;
  let pos = layout.start;
  while (pos < text.length) {
    let nl = text.indexOf(NL, pos);
    if (nl < 0) nl = text.length;
    const end = nl > pos && text[nl - 1] === CR ? nl - 1 : nl;
    if (end > pos) {
      rows++;
      let field = 0;
      let dot = -1;
      for (let i = pos; i <= end; i++) {
        const c = i < end ? text[i]! : COMMA;
        if (c === DOT) dot = i;
        else if (c === COMMA) {
          if (dot >= 0) {
            const decimals = i - dot - 1;
            const role = roles[field];
            if (role === "price" && decimals > priceDecimals) priceDecimals = decimals;
            else if (role === "size" && decimals > sizeDecimals) sizeDecimals = decimals;
          }
          field++;
          dot = -1;
        }
      }
    }
    pos = nl + 1;
  }
  return { rows, priceDecimals, sizeDecimals };
}

function parseFile(
  text: Buffer,
  layout: Layout,
  kind: Kind,
  file: string,
  market: Market,
  sym: number,
  table: TradeTable | BookTable,
  first: number,
): number {
  const { roles } = layout;
  const trades = kind === "trades" ? (table as TradeTable) : null;
  const book = kind === "l2" ? (table as BookTable) : null;
  const ts = new NsWriter(table.ts);
  const recv = book === null ? null : new NsWriter(book.recvTs!);
  const where: Where = { file, line: layout.start === 0 ? 1 : 2 };
  let row = first;
  let pos = layout.start;
  while (pos < text.length) {
    let nl = text.indexOf(NL, pos);
    if (nl < 0) nl = text.length;
    const end = nl > pos && text[nl - 1] === CR ? nl - 1 : nl;
    if (end > pos) {
      let field = 0;
      let fs = pos;
      for (let i = pos; i <= end; i++) {
        if (i < end && text[i] !== COMMA) continue;
        switch (roles[field]) {
          case "ts":
            ts.parse(row, text, fs, i, where);
            break;
          case "recv":
            recv!.parse(row, text, fs, i, where);
            break;
          case "price":
            table.priceMantissa[row] = parseDecimal(text, fs, i, market.priceScale, where);
            break;
          case "size":
            table.sizeMantissa[row] = parseDecimal(text, fs, i, market.sizeScale, where);
            break;
          case "side":
            table.side[row] = parseSide(text, fs, i, kind, where);
            break;
          case "id":
            trades!.tradeId[row] = parseDecimal(text, fs, i, 0, where);
            break;
          case "snap":
            book!.snapshot[row] = parseDecimal(text, fs, i, 0, where) === 0 ? 0 : 1;
            break;
          default:
            break;
        }
        field++;
        fs = i + 1;
      }
      if (field !== roles.length) throw new Error(`${at(where)}: ${field} fields, expected ${roles.length}`);
      table.symbol[row] = sym;
      row++;
    }
    where.line++;
    pos = nl + 1;
  }
  return row - first;
}

/** Position for error messages; one mutable object per file rather than a closure per line. */
interface Where {
  file: string;
  line: number;
}

function at(where: Where): string {
  return `${where.file}:${where.line}`;
}

/** Exact decimal text to a mantissa at `scale`; throws when it has more decimals or is not a safe integer. */
function parseDecimal(text: Buffer, s: number, e: number, scale: number, where: Where): number {
  let i = s;
  const negative = text[i] === MINUS;
  if (negative) i++;
  let value = 0;
  let digits = 0;
  let decimals = -1;
  for (; i < e; i++) {
    const c = text[i]!;
    if (c === DOT && decimals < 0) {
      decimals = 0;
      continue;
    }
    const d = c - ZERO;
    if (d < 0 || d > 9) throw new Error(`${at(where)}: malformed decimal ${text.toString("latin1", s, e)}`);
    value = value * 10 + d;
    digits++;
    if (decimals >= 0) decimals++;
  }
  if (digits === 0) throw new Error(`${at(where)}: empty number`);
  const frac = Math.max(decimals, 0);
  if (frac > scale) {
    throw new Error(`${at(where)}: ${text.toString("latin1", s, e)} has more than ${scale} decimals`);
  }
  const mantissa = value * 10 ** (scale - frac);
  // Every partial value was exact while it stayed below 2^53, and so is the product when it does.
  if (!Number.isSafeInteger(mantissa)) {
    throw new Error(`${at(where)}: ${text.toString("latin1", s, e)} exceeds 2^53`);
  }
  return negative ? -mantissa : mantissa;
}

const TWO16 = 65536;
const TWO32 = 4294967296;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Parses non-negative integer ns text into a BigInt64Array exactly, writing the two 32-bit halves
 * directly: a BigInt per value would cost more than all the rest of the parsing.
 */
class NsWriter {
  private readonly words: Uint32Array | null;
  constructor(private readonly values: BigInt64Array) {
    this.words = LITTLE_ENDIAN ? new Uint32Array(values.buffer, values.byteOffset, values.length * 2) : null;
  }
  parse(row: number, text: Buffer, s: number, e: number, where: Where): void {
    if (e - s > 19 || e === s)
      throw new Error(`${at(where)}: bad timestamp ${text.toString("latin1", s, e)}`);
    // value = hi * 1e9 + lo, each half below 2^34 and so exact in a double.
    let hi = 0;
    let lo = 0;
    const split = Math.max(s, e - 9);
    for (let i = s; i < e; i++) {
      const d = text[i]! - ZERO;
      if (d < 0 || d > 9) throw new Error(`${at(where)}: bad timestamp ${text.toString("latin1", s, e)}`);
      if (i < split) hi = hi * 10 + d;
      else lo = lo * 10 + d;
    }
    if (this.words === null) {
      this.values[row] = BigInt(hi) * 1_000_000_000n + BigInt(lo);
      return;
    }
    // hi * 1e9 = (hh * 2^16 + hl) * 1e9; every intermediate below stays under 2^53.
    const hh = Math.floor(hi / TWO16);
    const a = (hi - hh * TWO16) * 1e9 + lo;
    const b = hh * 1e9;
    const bHi = Math.floor(b / TWO16);
    const c = (b - bHi * TWO16) * TWO16 + a;
    const carry = Math.floor(c / TWO32);
    this.words[2 * row] = c - carry * TWO32;
    this.words[2 * row + 1] = bHi + carry;
  }
}

function parseSide(text: Buffer, s: number, e: number, kind: Kind, where: Where): number {
  const c = e - s === 1 ? text[s] : -1;
  if (kind === "trades") {
    if (c === 98) return 1; // b: taker bought
    if (c === 115) return 2; // s: taker sold
  } else {
    if (c === 98) return 0; // b: bid
    if (c === 97) return 1; // a: ask
  }
  throw new Error(`${at(where)}: unknown side ${text.toString("latin1", s, e)}`);
}
