import type { Command } from "commander";
import { createLog, loadRecorderConfig, Recorder, venueEntry } from "../src/recorder/index.js";
import { toJson, writeOut } from "./output.js";

export function registerRecord(program: Command): void {
  program
    .command("record")
    .description("record venues live into the dataset layout, until SIGTERM or SIGINT (then drain and seal)")
    .requiredOption("--config <file>", "the recorder configuration (YAML, see docs/RECORDER.md)")
    .option("--check", "only check the configuration and print it as JSON")
    .addHelpText(
      "after",
      "\nLogs are JSON lines on stdout; metrics, /healthz and /readyz on status.port.\n\nExamples:\n  ticktape record --config /etc/ticktape/recorder.yaml\n  ticktape record --config recorder.yaml --check",
    )
    .action(async (o: { config: string; check?: boolean }) => {
      const config = await loadRecorderConfig(o.config);
      if (o.check) {
        // What the recorder will use: a feed's URLs default to the venue's production addresses.
        const feeds = config.feeds.map((f) => ({ ...f, urls: { ...venueEntry(f.venue).urls, ...f.urls } }));
        await writeOut(`${toJson({ ...config, feeds }, 2)}\n`);
        return;
      }
      const log = createLog({ level: config.logLevel });
      // Why the recorder is asked to stop (a signal, a feed's writer that failed), once it can be.
      let stopFor: string | null = null;
      let requestStop = (why: string) => {
        if (stopFor === null) log.info("stop asked while starting: stopping once started", { reason: why });
        stopFor ??= why;
      };
      // Taken from the start: a signal during the start-up (leftovers repaired, first connections) is kept for
      // when the recorder can stop. Without a handler, SIGTERM would kill the process there (or, as PID 1 in a
      // container, be ignored until the kill at the end of the grace period).
      process.on("SIGTERM", () => requestStop("SIGTERM"));
      process.on("SIGINT", () => requestStop("SIGINT"));
      const recorder = await Recorder.start({
        root: config.root,
        captureId: config.captureId,
        feeds: config.feeds,
        codec: config.codec,
        flushIntervalMs: config.flushIntervalMs,
        sync: config.sync,
        maxQueuedRecords: config.maxQueuedRecords,
        feedThreads: config.feedThreads,
        ...(config.statusPort === null
          ? {}
          : { statusPort: config.statusPort, statusHost: config.statusHost }),
        log,
        onFlushed: (venue, ack) =>
          log.debug("flushed", {
            venue,
            records: ack.records,
            throughRecvNs: ack.throughRecvNs?.toString() ?? null,
          }),
        // A feed that records nothing more ends the process, every feed sealed first; started again, it records on.
        onFailure: (venue) => requestStop(`the writer of ${venue} failed`),
      });
      await new Promise<void>((resolve) => {
        let stopping = false;
        requestStop = (why: string) => {
          if (stopping) {
            // A signal again (an impatient operator, a supervisor that repeats it): the stop goes on, bounded by
            // stopTimeoutSeconds. Left to its default action, the signal would kill the process mid-drain.
            log.warn("already stopping", { reason: why, stopTimeoutSeconds: config.stopTimeoutSeconds });
            return;
          }
          stopping = true;
          log.info("stopping", { reason: why });
          recorder.stop(config.stopTimeoutSeconds * 1000).then(
            () => resolve(),
            (err: Error) => {
              log.alert(
                "stop did not end cleanly: what is not sealed stays in .open files, sealed at the next start",
                {
                  error: err.message,
                },
              );
              // Retry timers (a failing disk) would keep the process alive: it ends here, as documented.
              process.exit(1);
            },
          );
        };
        if (stopFor !== null) requestStop(stopFor);
      });
    });
}
