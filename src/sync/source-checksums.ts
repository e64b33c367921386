/**
 * Source checksums, computed once per file and kept: `<state>/<date>.checksums.json` (by default
 * `<root>/.ticktape-sync/`, outside every day folder, so DataSync never copies it). An entry holds for the file
 * while its size, modification and change times and inode are unchanged; anything else is computed again (a copy
 * that restores the modification time, `cp -p` or `rsync -a`, still changes the change time).
 *
 * The kept algorithms (CRC64NVME, S3's default, and CRC32C and CRC32) are computed in one pass over the file;
 * others (SHA-256, SHA-1) when an object asks for them, and kept as well.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isObject } from "../common/is-object.js";
import { TapeError } from "../format/errors.js";
import { type ChecksumAlgorithm, fileChecksums, isChecksumAlgorithm } from "../s3/checksums.js";
import type { SourceFile } from "./day-files.js";

export const KEPT_ALGORITHMS: readonly ChecksumAlgorithm[] = ["CRC64NVME", "CRC32C", "CRC32"];

interface Entry {
  size: number;
  mtimeMs: number;
  /** Absent in ledgers written before they were kept: such entries are computed again. */
  ctimeMs?: number;
  ino?: number;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

interface LedgerFile {
  version: 1;
  date: string;
  files: Record<string, Entry>;
}

function isEntry(v: unknown): v is Entry {
  return (
    isObject(v) &&
    typeof v.size === "number" &&
    typeof v.mtimeMs === "number" &&
    isObject(v.checksums) &&
    Object.values(v.checksums).every((c) => typeof c === "string")
  );
}

export function defaultStateDir(root: string): string {
  return join(root, ".ticktape-sync");
}

export class SourceChecksums {
  /** Bytes read to compute checksums (0 when every one was kept). */
  bytesHashed = 0;
  private dirty = false;

  private constructor(
    private readonly path: string,
    private readonly ledger: LedgerFile,
  ) {}

  static async load(stateDir: string, date: string): Promise<SourceChecksums> {
    const path = join(stateDir, `${date}.checksums.json`);
    let ledger: LedgerFile = { version: 1, date, files: {} };
    try {
      const parsed = JSON.parse(await readFile(path, "utf8")) as unknown;
      // A ledger that does not parse or is of another version is computed again, never trusted; so is an entry
      // of the wrong shape.
      if (isObject(parsed) && parsed.version === 1 && parsed.date === date && isObject(parsed.files)) {
        const files: Record<string, Entry> = {};
        for (const [relative, entry] of Object.entries(parsed.files))
          if (isEntry(entry)) files[relative] = entry;
        ledger = { version: 1, date, files };
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" && !(err instanceof SyntaxError)) {
        throw new TapeError("E_TAPE_IO", `cannot read: ${(err as Error).message}`, {
          file: path,
          cause: err,
        });
      }
    }
    return new SourceChecksums(path, ledger);
  }

  /** The file's whole-file checksum, kept or computed now. */
  async get(file: SourceFile, algorithm: ChecksumAlgorithm): Promise<string> {
    const kept = this.entry(file)?.checksums[algorithm];
    if (kept !== undefined) return kept;
    const algorithms = KEPT_ALGORITHMS.includes(algorithm) ? KEPT_ALGORITHMS : [algorithm];
    const computed = await fileChecksums(file.path, algorithms, {
      onBytes: (n) => {
        this.bytesHashed += n;
      },
    });
    if (computed.size !== file.size) {
      throw new TapeError(
        "E_TAPE_STATE",
        `file changed size while checked (${file.size} → ${computed.size})`,
        {
          file: file.path,
        },
      );
    }
    const entry = this.entry(file) ?? {
      size: file.size,
      mtimeMs: file.mtimeMs,
      ctimeMs: file.ctimeMs,
      ino: file.ino,
      checksums: {},
    };
    Object.assign(entry.checksums, computed.full);
    this.ledger.files[file.relative] = entry;
    this.dirty = true;
    return computed.full[algorithm]!;
  }

  /** The kept value, without computing (null when none is kept for the file as it is now). */
  kept(file: SourceFile, algorithm: ChecksumAlgorithm): string | null {
    return this.entry(file)?.checksums[algorithm] ?? null;
  }

  /** Writes the ledger if it changed (a temporary file renamed over the old one). */
  async save(): Promise<void> {
    if (!this.dirty) return;
    await mkdir(join(this.path, ".."), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.ledger, null, 1)}\n`);
    await rename(tmp, this.path);
    this.dirty = false;
  }

  private entry(file: SourceFile): Entry | undefined {
    const e = this.ledger.files[file.relative];
    if (
      e === undefined ||
      e.size !== file.size ||
      e.mtimeMs !== file.mtimeMs ||
      e.ctimeMs !== file.ctimeMs ||
      e.ino !== file.ino
    )
      return undefined;
    for (const k of Object.keys(e.checksums)) if (!isChecksumAlgorithm(k)) return undefined;
    return e;
  }
}
