/**
 * The sync's result as Prometheus text exposition (a node-exporter textfile, or a body to push to a
 * Pushgateway): written to a temporary file and renamed, so a scraper never reads half of it.
 */
import { rename, writeFile } from "node:fs/promises";

export interface SyncMetrics {
  date: string;
  files: number;
  bytes: number;
  verified: number;
  repaired: number;
  failed: number;
  success: boolean;
  durationSeconds: number;
}

export function metricsText(m: SyncMetrics): string {
  const label = `{date="${m.date}"}`;
  const lines = [
    ["ticktape_sync_files", "Source files of the day", m.files],
    ["ticktape_sync_bytes", "Source bytes of the day", m.bytes],
    ["ticktape_sync_verified_files", "Files whose S3 copy is proven", m.verified],
    ["ticktape_sync_repaired_files", "Files copied again by this run", m.repaired],
    ["ticktape_sync_failed_files", "Files whose copy is still missing or different", m.failed],
    ["ticktape_sync_success", "1 when the day is verified and its manifest written", m.success ? 1 : 0],
    ["ticktape_sync_duration_seconds", "Duration of the run", m.durationSeconds],
  ] as const;
  const out: string[] = [];
  for (const [name, help, value] of lines) {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}${label} ${value}`);
  }
  if (m.success) {
    out.push(
      "# HELP ticktape_sync_last_success_timestamp_seconds When a day was last verified",
      "# TYPE ticktape_sync_last_success_timestamp_seconds gauge",
      `ticktape_sync_last_success_timestamp_seconds ${Math.floor(Date.now() / 1000)}`,
    );
  }
  return `${out.join("\n")}\n`;
}

export async function writeMetrics(path: string, m: SyncMetrics): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, metricsText(m));
  await rename(tmp, path);
}
