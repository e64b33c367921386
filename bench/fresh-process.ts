/**
 * Runs one part of the benchmark in a child process of its own, so that it starts with an empty heap as a job
 * that does only this would: measured in the benchmark's own process after the other parts, the merged replay
 * ran 10–15% slower (a larger heap makes every collection of short-lived row objects dearer), and the format's
 * decoding into row objects ran at 5.7M trades/s instead of 18.9M.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Codec } from "../src/index.js";
import { log } from "./log.js";
import { measureReplay, type ReplayFigures } from "./replay.js";
import { syntheticWorkload } from "./synthetic.js";
import { measureTicktape, type TicktapeResult } from "./ticktape.js";

/** The parts that run on their own, by name: each takes JSON arguments and returns JSON. */
const PARTS = {
  replay: (a: { seed: number; s3: boolean }): Promise<ReplayFigures> => measureReplay(log, a.seed, a.s3),
  /**
   * The format's sizes and speeds on the synthetic workload, one result per codec (in the order given), and the
   * workload's symbols.
   */
  format: async (a: {
    trades: number;
    book: number;
    seed: number;
    codecs: Codec[];
  }): Promise<{ symbols: string[]; results: TicktapeResult[] }> => {
    const synth = syntheticWorkload({ trades: a.trades, bookUpdates: a.book, seed: a.seed });
    const results: TicktapeResult[] = [];
    for (const codec of a.codecs) {
      log(`ticktape ${codec}: encode and decode`);
      results.push(await measureTicktape(synth, codec));
    }
    return { symbols: synth.symbols.map((s) => s.name), results };
  },
};
type Parts = typeof PARTS;

export function inFreshProcess<K extends keyof Parts>(
  part: K,
  args: Parameters<Parts[K]>[0],
): ReturnType<Parts[K]> {
  return new Promise<unknown>((resolve, reject) => {
    const child = fork(new URL(import.meta.url), [part, JSON.stringify(args)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: unknown;
    child.on("message", (m) => (result = m));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`the ${part} part of the benchmark stopped (exit ${code ?? signal})`));
    });
  }) as ReturnType<Parts[K]>;
}

// Run as a script (the child): run the part named on the command line and send its figures back.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) {
  const part = process.argv[2] as keyof Parts;
  const run = PARTS[part];
  if (run === undefined) throw new Error(`no benchmark part ${part}`);
  const figures = await run(JSON.parse(process.argv[3] ?? "{}"));
  process.send(figures, () => process.exit(0));
}
