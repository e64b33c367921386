/**
 * Splitting a dataset's files into n shares of about equal bytes, the same way in every process: the children of
 * an AWS Batch array job each take theirs (`AWS_BATCH_JOB_ARRAY_INDEX`) and together read every file exactly once.
 */
import { stat } from "node:fs/promises";
import { TapeError } from "../format/index.js";
import { isS3Url, parseS3Url } from "../s3/index.js";
import type { Dataset, DatasetFile } from "./dataset.js";

/**
 * The share of each file: largest first (ties by path), each to the share with the fewest bytes so far (ties to
 * the lowest index). Deterministic, and no share ends more than one file's bytes above another.
 */
export function assignShares(files: readonly { path: string; size: number }[], n: number): number[] {
  const order = Array.from(files.keys()).sort(
    (a, b) => files[b]!.size - files[a]!.size || (files[a]!.path < files[b]!.path ? -1 : 1),
  );
  const load = new Array<number>(n).fill(0);
  const share = new Array<number>(files.length);
  for (const i of order) {
    let best = 0;
    for (let s = 1; s < n; s++) if (load[s]! < load[best]!) best = s;
    share[i] = best;
    load[best]! += files[i]!.size;
  }
  return share;
}

/** Share `index` of `count` (0-based) of the dataset's files, balanced by bytes. */
export async function partition(dataset: Dataset, index: number, count: number): Promise<Dataset> {
  const valid =
    Number.isInteger(count) && Number.isInteger(index) && index >= 0 && index < count && count <= MAX_SHARES;
  if (!valid) {
    throw new TapeError(
      "E_TAPE_VALUE",
      `share ${index} of ${count}: need 0 <= index < count <= ${MAX_SHARES}`,
      {
        field: "shard",
      },
    );
  }
  // Children that start at different moments would see another size, or a sealed name: other shares, overlapping.
  const live = dataset.files.find((f) => f.open);
  if (live !== undefined) {
    throw new TapeError(
      "E_TAPE_VALUE",
      "a file being written cannot be shared out: its size changes while the jobs start, and they would not agree on the shares; share closed hours",
      { file: live.path, field: "shard" },
    );
  }
  const sizes = await Promise.all(dataset.files.map((f) => sizeOf(f, dataset)));
  const share = assignShares(
    dataset.files.map((f, i) => ({ path: f.path, size: sizes[i]! })),
    count,
  );
  const keep = new Set(dataset.files.filter((_, i) => share[i] === index).map((f) => f.path));
  // Each missing hour is reported by one share (in turn), so that the shares together report it once.
  return dataset.subset(
    (f) => keep.has(f.path),
    {},
    (_, i) => i % count === index,
  );
}

/** From the listing (S3), else a HEAD or a stat. */
async function sizeOf(f: DatasetFile, dataset: Dataset): Promise<number> {
  if (f.size !== null) return f.size;
  if (isS3Url(f.path)) return (await (await dataset.sources.s3()).head(parseS3Url(f.path))).size;
  try {
    return (await stat(f.path)).size;
  } catch (err) {
    throw new TapeError("E_TAPE_IO", `cannot stat: ${(err as Error).message}`, { file: f.path, cause: err });
  }
}

/** Shares at most: AWS Batch array jobs have up to 10,000 children. */
export const MAX_SHARES = 10_000;

/**
 * `i/n` as given to `--shard` (1-based, as people count: 1/4 … 4/4), or from AWS Batch's array index (0-based)
 * and `AWS_BATCH_JOB_ARRAY_SIZE`; null when neither is set.
 */
export function shardFrom(
  text: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { index: number; count: number } | null {
  if (text !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(text.trim());
    const i = m === null ? Number.NaN : Number(m[1]);
    const n = m === null ? Number.NaN : Number(m[2]);
    if (!(n >= 1 && n <= MAX_SHARES && i >= 1 && i <= n))
      throw new TapeError(
        "E_TAPE_VALUE",
        `--shard ${text}: give i/n with 1 <= i <= n <= ${MAX_SHARES}, e.g. 3/8`,
        { field: "shard" },
      );
    return { index: i - 1, count: n };
  }
  const index = env.AWS_BATCH_JOB_ARRAY_INDEX;
  const size = env.AWS_BATCH_JOB_ARRAY_SIZE;
  const unset = (v: string | undefined) => v === undefined || v === "";
  if (unset(index) && unset(size)) return null;
  // Plain decimal integers only: Number() would also take "0x1", " 1.0 " or "4e0".
  const i = /^\d+$/.test(index ?? "") ? Number(index) : Number.NaN;
  const n = /^\d+$/.test(size ?? "") ? Number(size) : Number.NaN;
  if (!(n >= 1 && n <= MAX_SHARES && i >= 0 && i < n)) {
    throw new TapeError(
      "E_TAPE_VALUE",
      `AWS_BATCH_JOB_ARRAY_INDEX=${index ?? "(unset)"} and AWS_BATCH_JOB_ARRAY_SIZE=${size ?? "(unset)"}: both are needed, as integers with index < size <= ${MAX_SHARES} (the array size is set in the job definition)`,
      { field: "shard" },
    );
  }
  return { index: i, count: n };
}
