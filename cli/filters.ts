/** The record filters shared by the reading commands (--symbol, --kind, --from, --to). */

import type { Command } from "commander";
import { KINDS, type Kind, parseTime, type TapeFilter } from "../src/index.js";
import { checkOrder } from "./dataset-options.js";
import { usage } from "./usage.js";

export interface FilterOptions {
  symbol?: string[];
  kind?: string[];
  from?: string;
  to?: string;
}

export function addFilterOptions(cmd: Command): Command {
  return cmd
    .option("-s, --symbol <symbol...>", "only these symbols")
    .option("-k, --kind <kind...>", `only these kinds (${KINDS.join(", ")})`)
    .option("--from <time>", "from this time, inclusive (ISO 8601, UTC unless a zone is given, or ns)")
    .option("--to <time>", "up to this time, exclusive");
}

export function toFilter(o: FilterOptions): TapeFilter {
  const filter: TapeFilter = {};
  if (o.symbol !== undefined) filter.symbols = o.symbol;
  if (o.kind !== undefined) {
    for (const k of o.kind) {
      if (!(KINDS as readonly string[]).includes(k)) {
        throw usage(`unknown kind ${JSON.stringify(k)} (kinds: ${KINDS.join(", ")})`);
      }
    }
    filter.kinds = o.kind as Kind[];
  }
  if (o.from !== undefined) filter.from = parseTime(o.from);
  if (o.to !== undefined) filter.to = parseTime(o.to);
  checkOrder(filter);
  return filter;
}
