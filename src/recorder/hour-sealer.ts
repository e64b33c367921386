/**
 * Sealing an hour's file the way the recorder does it (docs/DURABILITY.md). While recording, a file gets small
 * blocks (everything is flushed every second); at the end of the hour its records are written again with full
 * blocks into a hidden temporary file, which is sealed and renamed into place, and only then are the sources
 * removed. Sources are the hour's `NAME.tape.open` and, after a restart within the hour, the parts the earlier
 * processes left (`NAME.partK.tape.open`, set aside so the new process can start `NAME.tape.open`).
 * Each step leaves a state the next start recognises: a crash before the rename leaves the sources (sealed again);
 * after it, the sealed file (the sources are then removed).
 */
import { readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { TapeError } from "../format/errors.js";
import { TapeReader } from "../format/reader.js";
import { exists, syncDirectory, TapeWriter, type TapeWriterOptions } from "../format/writer.js";

export interface HourSealReport {
  path: string;
  /** The files whose records went into the sealed file, removed afterwards. */
  sources: string[];
  /** Sources that could not be read at all, renamed to `NAME.unreadable-K` and kept for inspection. */
  unreadable: string[];
  rows: number;
  blocks: number;
  bytes: number;
  /** Bytes of the sources (small blocks, torn tails). */
  sourceBytes: number;
  /** Bytes at the ends of sources that held no whole block (a crash's torn write). */
  droppedBytes: number;
  /** True when the sealed file existed already (an earlier seal was cut off after its rename). */
  alreadySealed: boolean;
  /** True when the records were written again with full blocks (false: sealed as written). */
  reblocked: boolean;
}

const stem = (finalPath: string) => finalPath.replace(/\.tape$/, "");

export function partPath(finalPath: string, k: number): string {
  return `${stem(finalPath)}.part${k}.tape.open`;
}

/** The parts of an hour's file, in the order they were written. */
export async function listParts(finalPath: string): Promise<string[]> {
  const dir = dirname(finalPath);
  const prefix = `${basename(stem(finalPath))}.part`;
  const parts: { k: number; path: string }[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    // No folder: no parts. Any other failure (EMFILE, EIO) must not read as "no parts": a seal would then leave
    // them out, and a later seal find them beside the sealed file and take them as already in it.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(".tape.open")) continue;
    const k = Number(name.slice(prefix.length, -".tape.open".length));
    if (Number.isInteger(k) && k > 0) parts.push({ k, path: join(dir, name) });
  }
  return parts.sort((a, b) => a.k - b.k).map((p) => p.path);
}

/**
 * Makes room for a new process to write an hour: the hour's sealed file (sealed early by a stop within the hour)
 * and its `.open` file become its next parts, in that order, and are joined again when the hour is sealed.
 */
export async function setAside(finalPath: string): Promise<string[]> {
  const moved: string[] = [];
  for (const from of [finalPath, `${finalPath}.open`]) {
    if (!(await exists(from))) continue;
    const parts = await listParts(finalPath);
    const last = parts.length === 0 ? 0 : Number(/\.part(\d+)\.tape\.open$/.exec(parts.at(-1)!)![1]);
    const next = partPath(finalPath, last + 1);
    // rename() replaces what it moves onto: a part listed wrong must fail here, not be overwritten.
    if (await exists(next))
      throw new TapeError("E_TAPE_STATE", `part ${next} exists already`, { file: next });
    await rename(from, next);
    moved.push(next);
  }
  if (moved.length > 0) await syncDirectory(dirname(finalPath));
  return moved;
}

/** Seals an hour from its parts and its `.open` file into `finalPath`, with full blocks. */
export async function sealHour(finalPath: string, writer: TapeWriterOptions = {}): Promise<HourSealReport> {
  const dir = dirname(finalPath);
  const candidates = [...(await listParts(finalPath)), `${finalPath}.open`];
  const sources: string[] = [];
  for (const c of candidates) if (await exists(c)) sources.push(c);
  const report: HourSealReport = {
    path: finalPath,
    sources,
    unreadable: [],
    rows: 0,
    blocks: 0,
    bytes: 0,
    sourceBytes: 0,
    droppedBytes: 0,
    alreadySealed: false,
    reblocked: false,
  };
  if (await exists(finalPath)) {
    // An earlier seal renamed its output and was cut off before removing the sources: they are in the file.
    const sealed = await TapeReader.open(finalPath, { recover: false });
    report.rows = sealed.blocks.reduce((n, b) => n + b.rowCount, 0);
    report.blocks = sealed.blocks.length;
    report.bytes = sealed.size;
    await sealed.close();
    report.alreadySealed = true;
    for (const s of sources) await rm(s, { force: true });
    await syncDirectory(dir);
    return report;
  }
  const readers: TapeReader[] = [];
  for (const [k, s] of sources.entries()) {
    const size = (await stat(s)).size;
    if (size === 0) {
      // Created and never written (a crash right at the start of an hour): it holds nothing.
      await rm(s, { force: true });
      continue;
    }
    report.sourceBytes += size;
    try {
      readers.push(await TapeReader.open(s));
    } catch (err) {
      if (!(err instanceof TapeError) || err.code === "E_TAPE_IO") throw err;
      // The first free number: an unreadable part kept by an earlier seal of the hour is never replaced.
      let n = k + 1;
      while (await exists(`${finalPath}.unreadable-${n}`)) n++;
      const kept = `${finalPath}.unreadable-${n}`;
      await rename(s, kept);
      report.unreadable.push(kept);
    }
  }
  report.sources = readers.map((r) => r.name);
  if (readers.length === 0) return report;
  const tmp = join(dir, `.${basename(finalPath)}.reblock.tape`);
  await rm(`${tmp}.open`, { force: true });
  await rm(tmp, { force: true });
  let out: TapeWriter | null = null;
  try {
    const h = readers[0]!.header;
    out = await TapeWriter.create(tmp, {
      ...writer,
      exchange: h.exchange,
      captureId: h.captureId,
      periodStart: h.periodStart,
      periodEnd: h.periodEnd,
      meta: h.meta,
    });
    for (const r of readers) {
      report.droppedBytes += r.recovery?.droppedBytes ?? 0;
      for await (const rec of r.records()) out.append(rec);
    }
    const sealed = await out.seal();
    report.reblocked = true;
    report.rows = sealed.rows;
    report.blocks = sealed.blocks;
    report.bytes = sealed.bytes;
  } catch (err) {
    // The sources are untouched; the unfinished output goes, handle and all, so that its space is free again.
    await out?.discard();
    await rm(`${tmp}.open`, { force: true });
    throw err;
  } finally {
    for (const r of readers) await r.close();
  }
  await rename(tmp, finalPath);
  await syncDirectory(dir);
  for (const s of report.sources) await rm(s, { force: true });
  await syncDirectory(dir);
  return report;
}
