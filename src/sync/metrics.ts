/**
 * The sync's result as Prometheus text exposition (a node-exporter textfile, or a body to push to a
 * Pushgateway): written to a temporary file and renamed, so a scraper never reads half of it.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import type { SyncResult } from "./sync-day.js";

export interface SyncMetrics {
  date: string;
  files: number;
  bytes: number;
  verified: number;
  repaired: number;
  failed: number;
  success: boolean;
  /** The run stopped on an error before it could tell (exit code 2). */
  error: boolean;
  durationSeconds: number;
}

const LAST_SUCCESS = "ticktape_sync_last_success_timestamp_seconds";

/** The metrics of a run that ended with a result. */
export function metricsOf(result: SyncResult): SyncMetrics {
  const files = result.verify?.files ?? [];
  const success = result.status === "verified" || result.status === "already-verified";
  return {
    date: result.date,
    files: result.files,
    bytes: result.bytes,
    verified:
      result.status === "already-verified" ? result.files : files.filter((f) => f.verdict === "ok").length,
    repaired: new Set(result.repairs.flatMap((r) => r.files)).size,
    failed: files.filter((f) => f.verdict !== "ok").length + result.stragglers.length,
    success,
    error: false,
    durationSeconds: result.durationMs / 1000,
  };
}

/** The metrics of a run that stopped on an error. */
export function metricsOfError(date: string, durationSeconds: number): SyncMetrics {
  return {
    date,
    files: 0,
    bytes: 0,
    verified: 0,
    repaired: 0,
    failed: 0,
    success: false,
    error: true,
    durationSeconds,
  };
}

/**
 * The exposition text. `lastSuccess` (epoch seconds) is when a day was last proven: now for a success, else the
 * value of the previous file, so that the gauge an alert watches survives failed runs.
 */
export function metricsText(m: SyncMetrics, lastSuccess: number | null = null): string {
  const label = `{date="${m.date}"}`;
  const lines = [
    ["ticktape_sync_files", "Source files of the day", m.files],
    ["ticktape_sync_bytes", "Source bytes of the day", m.bytes],
    ["ticktape_sync_verified_files", "Files whose S3 copy is proven", m.verified],
    ["ticktape_sync_repaired_files", "Files copied again by this run", m.repaired],
    ["ticktape_sync_failed_files", "Files whose copy is still missing or different", m.failed],
    ["ticktape_sync_success", "1 when the day is verified and its manifest written", m.success ? 1 : 0],
    ["ticktape_sync_error", "1 when the run stopped on an error (exit code 2)", m.error ? 1 : 0],
    ["ticktape_sync_duration_seconds", "Duration of the run", m.durationSeconds],
  ] as const;
  const out: string[] = [];
  for (const [name, help, value] of lines) {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}${label} ${value}`);
  }
  const last = m.success ? Math.floor(Date.now() / 1000) : lastSuccess;
  if (last !== null) {
    out.push(
      `# HELP ${LAST_SUCCESS} When a day was last verified`,
      `# TYPE ${LAST_SUCCESS} gauge`,
      `${LAST_SUCCESS} ${last}`,
    );
  }
  return `${out.join("\n")}\n`;
}

/** Writes the metrics file, keeping the last success time of the file it replaces. */
export async function writeMetrics(path: string, m: SyncMetrics): Promise<void> {
  const previous = await readFile(path, "utf8").catch(() => "");
  const found = new RegExp(`^${LAST_SUCCESS} (\\d+)$`, "m").exec(previous);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, metricsText(m, found === null ? null : Number(found[1])));
  await rename(tmp, path);
}
