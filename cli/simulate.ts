import { Argument, type Command, InvalidArgumentError, Option } from "commander";
import { isVenueId, VENUE_IDS } from "../src/recorder/index.js";
import {
  FAULT_KINDS,
  type InjectedFault,
  parseFault,
  type ScheduledFault,
  type Simulator,
  simulatorEntry,
  startSimulator,
} from "../src/recorder/simulators/index.js";
import { toJson, writeOut } from "./output.js";

function numberOf(what: string, min: number, integer: boolean, exclusive = false) {
  return (v: string): number => {
    const n = Number(v);
    if (
      v.trim() === "" ||
      !Number.isFinite(n) ||
      n < min ||
      (exclusive && n === min) ||
      (integer && !Number.isInteger(n))
    ) {
      throw new InvalidArgumentError(
        `${what} must be ${integer ? "an integer" : "a number"} ${exclusive ? ">" : ">="} ${min}`,
      );
    }
    return n;
  };
}

function faultOption(v: string, previous: ScheduledFault[]): ScheduledFault[] {
  try {
    return [...previous, parseFault(v)];
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

interface SimulateOptions {
  port: number;
  symbols?: string;
  rate: number;
  seed: number;
  replay?: string;
  speed: number;
  fault: ScheduledFault[];
  json?: boolean;
}

export function registerSimulate(program: Command): void {
  program
    .command("simulate")
    .description(
      "serve a simulated exchange on 127.0.0.1 (WebSocket and REST) for a recorder to connect to, until SIGINT or SIGTERM",
    )
    .addArgument(new Argument("<venue>", "venue to simulate").choices(VENUE_IDS))
    .option("--port <n>", "TCP port on 127.0.0.1 (0: any free port)", numberOf("--port", 0, true), 0)
    .option("--symbols <list>", "comma-separated symbols in the venue's spelling (default: two majors)")
    .option("--rate <n>", "book messages per second per symbol", numberOf("--rate", 0, false, true), 10)
    .option(
      "--seed <n>",
      "seed of the simulated market (the same seed, the same market)",
      numberOf("--seed", 0, true),
      1,
    )
    .option(
      "--replay <file>",
      "play a capture file (docs/CAPTURE.md) to each client instead of a simulated market",
    )
    .option(
      "--speed <x>",
      "playback speed: 1 real time, 10 ten times faster, 0 as fast as possible",
      numberOf("--speed", 0, false),
      1,
    )
    .addOption(
      new Option(
        "--fault <spec>",
        `inject a fault, repeatable: KIND[=N][@SECONDS] with KIND one of ${FAULT_KINDS.join(", ")} (N: ms for stall, messages for slow; no SECONDS: at once)`,
      )
        .argParser(faultOption)
        .default([], "none"),
    )
    .option("--json", "print the addresses as one JSON line (venue, port, ws, rest, symbols), for a script")
    .addHelpText(
      "after",
      `\nPrints the URLs to give the recorder (--json: as one JSON line), then one line per injected fault on stderr.\nDefault symbols: ${VENUE_IDS.map((v) => `${v} ${simulatorEntry(v).defaultSymbols.join(",")}`).join("; ")}.\n\nExamples:\n  ticktape simulate binance --port 9443 --symbols BTCUSDT,ETHUSDT --rate 20\n  ticktape simulate binance-usdm --symbols BTCUSDT --fault drop@5\n  ticktape simulate okx --seed 7 --fault drop@10 --fault bad-checksum@20 --fault stall=3000@30\n  ticktape simulate okx --replay fixtures/real/okx-v5-20220513.jsonl --speed 0
  ticktape simulate bybit --port 0 --json`,
    )
    .action(async (venue: string, o: SimulateOptions) => {
      if (!isVenueId(venue)) throw new Error(`unknown venue ${venue}`);
      const symbols = o.symbols
        ?.split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
      const sim = await startSimulator(venue, {
        port: o.port,
        rate: o.rate,
        seed: o.seed,
        speed: o.speed,
        faults: o.fault,
        ...(symbols === undefined ? {} : { symbols }),
        ...(o.replay === undefined ? {} : { replay: o.replay }),
        onFault: (f) => process.stderr.write(`${describeFault(f)}\n`),
        onLog: (m) => process.stderr.write(`${m}\n`),
      });
      await writeOut(
        o.json
          ? `${toJson({ venue: sim.venue, port: sim.port, ws: sim.wsUrl, rest: sim.restUrl, symbols: sim.symbols })}\n`
          : banner(sim, o),
      );
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", () => resolve());
        process.once("SIGINT", () => resolve());
      });
      const s = sim.stats;
      await sim.close();
      process.stderr.write(
        `stopped: ${s.connections} connections, ${s.messagesSent} messages, ${s.restRequests} REST requests, ` +
          `${sim.faultCount()} faults, ${s.droppedClients} clients dropped\n`,
      );
    });
}

function banner(sim: Simulator, o: SimulateOptions): string {
  const what =
    o.replay === undefined
      ? `seed ${o.seed}, ${o.rate} book messages/s per symbol: ${sim.symbols.join(", ")}`
      : `playing ${o.replay} at ${o.speed === 0 ? "full speed" : `speed ${o.speed}`}`;
  const lines = [
    `${sim.venue} simulator on 127.0.0.1:${sim.port} (${what})`,
    `  ws    ${sim.wsUrl}`,
    `  rest  ${sim.restUrl}`,
  ];
  sim.examples().forEach((line, i) => {
    lines.push(`${i === 0 ? "  e.g.  " : "        "}${line}`);
  });
  lines.push(`recorder urls: { ws: "${sim.wsUrl}", rest: "${sim.restUrl}" }`, "Ctrl-C to stop");
  return `${lines.join("\n")}\n`;
}

function describeFault(f: InjectedFault): string {
  const ids = f.ids.length === 0 ? "" : ` ids ${f.ids.join(",")}`;
  return `fault ${f.kind}${f.symbol === "" ? "" : ` ${f.symbol}`}${ids}: ${f.detail}`;
}
