/**
 * The S3 emulator for tests and the benchmark: fauxqs in a child process running Node 22 (the `node` devDependency),
 * bound to 127.0.0.1, with a client made for it and helpers to fill a bucket.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { S3Options } from "../../src/s3/index.js";
import { node22 } from "./node22.js";

const here = dirname(fileURLToPath(import.meta.url));
const PART_BYTES = 8 * 1024 * 1024;

export class S3Emulator {
  readonly client: S3Client;
  private constructor(
    private readonly child: ChildProcess,
    readonly endpoint: string,
  ) {
    this.client = new S3Client({ ...clientOptions(endpoint), maxAttempts: 1 });
  }

  static async start(): Promise<S3Emulator> {
    // The launcher is plain JS next to this file (in dist as in the sources).
    const main = join(here, "fauxqs-main.mjs");
    const script = existsSync(main)
      ? main
      : join(here, "..", "..", "..", "test", "support", "fauxqs-main.mjs");
    const child = spawn(node22(), [script], {
      stdio: ["pipe", "pipe", "inherit"],
      // fauxqs uses node:sqlite, which prints an experimental-feature warning on every start.
      env: { ...process.env, NODE_NO_WARNINGS: "1" },
    });
    const line = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once("line", resolve);
      child.once("exit", (code) => reject(new Error(`S3 emulator exited with ${code}`)));
    });
    const { endpoint } = JSON.parse(line) as { endpoint: string };
    return new S3Emulator(child, endpoint);
  }

  /** Options for ticktape's S3 access to this emulator (or to a proxy in front of it). */
  options(endpoint = this.endpoint): S3Options {
    return { ...clientOptions(endpoint), retryBaseMs: 5, requestTimeoutMs: 2000 };
  }

  async createBucket(bucket: string): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: bucket }));
  }

  /** Uploads an object: in one PUT, or in 8 MiB parts when larger (the emulator takes at most 11 MiB a request). */
  async put(bucket: string, key: string, body: Uint8Array): Promise<void> {
    if (body.length <= PART_BYTES) {
      await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      return;
    }
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
    );
    const parts: { ETag: string; PartNumber: number }[] = [];
    for (let at = 0, n = 1; at < body.length; at += PART_BYTES, n++) {
      const { ETag } = await this.client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber: n,
          Body: body.subarray(at, at + PART_BYTES),
        }),
      );
      parts.push({ ETag: ETag!, PartNumber: n });
    }
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        MultipartUpload: { Parts: parts },
      }),
    );
  }

  /** Copies local files to `bucket` under `prefix`, each at its path relative to `root`. */
  async upload(bucket: string, prefix: string, root: string, paths: readonly string[]): Promise<string[]> {
    const keys: string[] = [];
    for (const path of paths) {
      const key = `${prefix}${path
        .slice(root.length + 1)
        .split("\\")
        .join("/")}`;
      await this.put(bucket, key, await readFile(path));
      keys.push(key);
    }
    return keys;
  }

  async stop(): Promise<void> {
    this.client.destroy();
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function clientOptions(endpoint: string) {
  return {
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    requestChecksumCalculation: "WHEN_REQUIRED" as const,
    responseChecksumValidation: "WHEN_REQUIRED" as const,
  };
}
