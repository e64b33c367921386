/**
 * Finds the venue modules of a folder: every connector (or simulator) file that exports its registry entry under
 * an agreed name. The registries are built from this, so that adding a venue is adding its files.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The value each module of `dir` (compiled `.js` or source `.ts`, `index` aside) exports as `name`, by file name. */
export async function modulesExporting<T>(dir: string, name: string): Promise<T[]> {
  const files = readdirSync(dir)
    .filter((f) => /^[a-z0-9-]+\.(js|ts)$/.test(f) && !f.startsWith("index."))
    .sort();
  const found: T[] = [];
  for (const f of files) {
    const m = (await import(pathToFileURL(join(dir, f)).href)) as Record<string, unknown>;
    if (m[name] !== undefined) found.push(m[name] as T);
  }
  return found;
}
