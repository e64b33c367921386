/**
 * Ingest per venue: a few seconds of each venue's simulator recorded with raw frames on, then those frames through
 * `ingest` (read, parse, sequence, checksum, book, encode, write), as `ticktape ingest` runs them, on one core.
 * The figure is frames per second of the whole ingest, files opened and sealed included; the slowest venue's is
 * `ingestFramesPerSecMin`. A few seconds of frames take well under a second: the first pass, which also compiles
 * the code, is printed beside it, and the figure is the better of the two passes after it, as an ingest of hours
 * runs most of its time (a pass this short also catches a garbage collection more or less).
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  feedOfSimulator,
  ingest,
  Recorder,
  startSimulator,
  VENUE_IDS,
  type VenueId,
} from "../src/recorder/index.js";

export interface IngestRun {
  venue: VenueId;
  frames: number;
  bookFrames: number;
  /** The first pass over the frames, code compiled on the way. */
  firstPassFramesPerSec: number;
  framesPerSec: number;
  gaps: number;
  checksumsChecked: number;
}

export interface IngestFigures {
  runs: IngestRun[];
  ingestFramesPerSecMin: number;
}

const RECORD_MS = 4000;

async function tapes(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile() && e.name.endsWith(".tape")) out.push(join(e.parentPath, e.name));
  return out.sort();
}

export async function measureIngest(log: (m: string) => void): Promise<IngestFigures> {
  const runs: IngestRun[] = [];
  for (const venue of VENUE_IDS) {
    const root = await mkdtemp(join(tmpdir(), `ticktape-bench-ingest-${venue}-`));
    try {
      const sim = await startSimulator(venue, { rate: 3000, seed: 21 });
      const recorder = await Recorder.start({
        root: join(root, "live"),
        captureId: "bench",
        feeds: [feedOfSimulator(sim, 30_000)],
        sync: false,
      });
      await new Promise((r) => setTimeout(r, RECORD_MS));
      await recorder.stop();
      await sim.close();
      const inputs = await tapes(join(root, "live"));
      const pass = async (out: string) => {
        const started = performance.now();
        const summary = await ingest({ venue, inputs, out: join(root, out), raw: false });
        return { s: summary, seconds: (performance.now() - started) / 1000 };
      };
      const first = await pass("first");
      const second = await pass("second");
      const third = await pass("third");
      const { s, seconds } = second.seconds <= third.seconds ? second : third;
      runs.push({
        venue,
        frames: s.frames,
        bookFrames: s.records.book,
        firstPassFramesPerSec: first.s.frames / first.seconds,
        framesPerSec: s.frames / seconds,
        gaps: s.gaps,
        checksumsChecked: s.checksumsChecked,
      });
      log(
        `ingest: ${venue}: ${s.frames} frames in ${first.seconds.toFixed(2)} s, then ${second.seconds.toFixed(2)} s and ${third.seconds.toFixed(2)} s`,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  return { runs, ingestFramesPerSecMin: Math.min(...runs.map((r) => r.framesPerSec)) };
}

export function ingestTargets(f: IngestFigures): [string, boolean, string][] {
  const slowest = f.runs.reduce((a, b) => (b.framesPerSec < a.framesPerSec ? b : a));
  return [
    [
      "ingest ≥ 150k frames/s for every venue (one core)",
      f.ingestFramesPerSecMin >= 150_000,
      `${(f.ingestFramesPerSecMin / 1000).toFixed(0)}k/s (slowest: ${slowest.venue})`,
    ],
  ];
}

export function ingestMarkdown(f: IngestFigures | null): string[] {
  const lines = ["## Ingest per venue (`ticktape ingest` of raw frames recorded from each simulator)", ""];
  if (f === null) return [...lines, "Not measured (`--no-ingest`)."];
  return [
    ...lines,
    `Each venue's simulator recorded for ${RECORD_MS / 1000} s (raw frames on), then ingested three times: read, parse, sequence, checksum, book, encode, write, files sealed. One core.`,
    "The figure is the better of the second and third passes: the first, well under a second, also compiles the code, which an ingest of hours does once.",
    "",
    "| venue | frames | book rows | frames/s, first pass | frames/s | gaps | checksums checked |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...f.runs.map(
      (r) =>
        `| ${r.venue} | ${r.frames.toLocaleString("en-US")} | ${r.bookFrames.toLocaleString("en-US")} | ${(r.firstPassFramesPerSec / 1000).toFixed(0)}k/s | ${(r.framesPerSec / 1000).toFixed(0)}k/s | ${r.gaps} | ${r.checksumsChecked.toLocaleString("en-US")} |`,
    ),
  ];
}
