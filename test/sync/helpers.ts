/** A day of small tape files on a local "EFS" root, for the sync tests. */
import { readFile, writeFile } from "node:fs/promises";
import type { TapeRecord } from "../../src/index.js";
import { S3Storage } from "../../src/s3/index.js";
import { setupDataSync } from "../../src/sync/setup.js";
import { DAY0, type FileSpec, HOUR, writeDataset } from "../reader/helpers.js";
import type { DataSyncEmulator } from "../support/datasync-emulator.js";
import { S3Emulator } from "../support/s3-emulator.js";

/** 2024-08-08 */
export const DATE = "2024-08-08";
/** A moment well after DATE: the day is over. */
export const LATER = () => Date.parse("2024-08-20T03:00:00Z");
export const FS_ARN = "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0";
export const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

/** The S3 emulator and a client of ours for it. */
export async function startS3(): Promise<{ s3: S3Emulator; storage: S3Storage }> {
  const s3 = await S3Emulator.start();
  return { s3, storage: await S3Storage.create(s3.options()) };
}

export async function stopS3(s3: S3Emulator | undefined, storage: S3Storage | undefined): Promise<void> {
  storage?.close();
  await s3?.stop();
}

/** A DataSync task from the EFS stand-in (FS_ARN) to `dest`, made the way `ticktape sync setup` makes it. */
export async function createTask(ds: DataSyncEmulator, dest: string): Promise<string> {
  const setup = await setupDataSync({
    efsFileSystemArn: FS_ARN,
    subnetArn: "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-0abc",
    securityGroupArns: ["arn:aws:ec2:us-east-1:111122223333:security-group/sg-0abc"],
    destination: dest,
    bucketAccessRoleArn: "arn:aws:iam::111122223333:role/datasync",
    endpoint: ds.endpoint,
    credentials: CREDENTIALS,
  });
  return setup.taskArn!;
}

/** `hours` hourly files for each exchange, with trades, book updates and a gap event, a few KB each. */
export function daySpecs(exchanges: readonly string[], hours: number, seed = 1): FileSpec[] {
  const specs: FileSpec[] = [];
  let state = seed;
  const random = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };
  for (const exchange of exchanges) {
    for (let h = 0; h < hours; h++) {
      const hour = DAY0 + BigInt(h) * HOUR;
      const records: TapeRecord[] = [];
      for (let i = 0; i < 2000; i++) {
        const ts = hour + BigInt(i) * 1_000_000_000n + BigInt(Math.floor(random() * 1e6));
        const price = `${60000 + Math.floor(random() * 100)}.${Math.floor(random() * 100)}`;
        records.push(
          i % 2 === 0
            ? {
                kind: "trade",
                symbol: "BTC-USDT",
                ts,
                price,
                size: `0.${Math.floor(random() * 1e6)}`,
                side: "buy",
              }
            : {
                kind: "book",
                symbol: "BTC-USDT",
                ts,
                side: "bid",
                price,
                size: "1.5",
                snapshot: false,
                seq: BigInt(i),
              },
        );
      }
      records.push({
        kind: "event",
        symbol: "BTC-USDT",
        ts: hour + 1_500_000_000_000n,
        type: "gap",
        seqBefore: 10n,
        seqAfter: 20n,
        message: "sequence gap",
      });
      records.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
      specs.push({ exchange, hour, captureId: "pod-a", records, policy: { maxRows: 500 } });
    }
  }
  return specs;
}

export async function writeDay(root: string, exchanges: readonly string[], hours: number): Promise<string[]> {
  return writeDataset(root, daySpecs(exchanges, hours));
}

/** Flips one byte of a local file. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = bytes[offset]! ^ 0xff;
  await writeFile(path, bytes);
}
