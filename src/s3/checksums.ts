/**
 * The checksums S3 stores with an object (CRC64NVME, CRC32C, CRC32, SHA-256, SHA-1), computed over local bytes
 * so that a copy can be proven equal to its source without downloading it. Values are base64 of the big-endian
 * digest, exactly as S3 presents them (`x-amz-checksum-crc64nvme`, GetObjectAttributes).
 *
 * The CRCs are native: CRC64NVME through aws-crt (loaded on first use: it costs about 100 ms), CRC32 and CRC32C
 * through @node-rs/crc32. A table-driven JS CRC64NVME serves where aws-crt has no binary, and as the tests'
 * independent reference.
 */
import { createHash, type Hash } from "node:crypto";
import { open } from "node:fs/promises";
import { createRequire } from "node:module";
import { crc32, crc32c } from "@node-rs/crc32";
import { TapeError } from "../format/errors.js";

export const CHECKSUM_ALGORITHMS = ["CRC64NVME", "CRC32C", "CRC32", "SHA256", "SHA1"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export function isChecksumAlgorithm(s: string): s is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(s);
}

/** An incremental checksum. */
export interface Hasher {
  update(bytes: Uint8Array): void;
  /** The digest, big-endian, as S3 encodes it before base64. */
  digest(): Uint8Array;
}

type Crc64Native = (data: Uint8Array, previous?: DataView) => DataView;
let crc64Native: Crc64Native | null | undefined;

/** aws-crt's CRC64NVME, or null where it cannot be loaded. */
function nativeCrc64(): Crc64Native | null {
  if (crc64Native === undefined) {
    try {
      const require = createRequire(import.meta.url);
      const crt = require("aws-crt") as { checksums: { crc64nvme: Crc64Native } };
      crc64Native = crt.checksums.crc64nvme;
    } catch {
      crc64Native = null;
    }
  }
  return crc64Native;
}

/** Which CRC64NVME runs: "native" (aws-crt) or "js". */
export function crc64Implementation(): "native" | "js" {
  return nativeCrc64() === null ? "js" : "native";
}

export function createHasher(algorithm: ChecksumAlgorithm, options: { js?: boolean } = {}): Hasher {
  switch (algorithm) {
    case "CRC32":
      return new Crc32Hasher(crc32);
    case "CRC32C":
      return new Crc32Hasher(crc32c);
    case "CRC64NVME": {
      const native = options.js === true ? null : nativeCrc64();
      return native === null ? new Crc64NvmeJs() : new Crc64NvmeNative(native);
    }
    case "SHA256":
      return new ShaHasher(createHash("sha256"));
    case "SHA1":
      return new ShaHasher(createHash("sha1"));
  }
}

/** The base64 checksum of `bytes`. */
export function checksumOf(algorithm: ChecksumAlgorithm, bytes: Uint8Array): string {
  const h = createHasher(algorithm);
  h.update(bytes);
  return toBase64(h.digest());
}

export function toBase64(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString("base64");
}

/**
 * S3's composite checksum of a multipart object: the checksum of the concatenated part digests, then `-N`
 * (N = the part count).
 */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partChecksums: readonly string[]): string {
  const raw = Buffer.concat(partChecksums.map((c) => Buffer.from(c, "base64")));
  return `${checksumOf(algorithm, raw)}-${partChecksums.length}`;
}

export interface FileChecksums {
  size: number;
  /** Whole-file checksum per algorithm asked for. */
  full: Partial<Record<ChecksumAlgorithm, string>>;
  /** Per-part checksums at the given part sizes, per algorithm asked for (only with `partSizes`). */
  parts: Partial<Record<ChecksumAlgorithm, string[]>>;
}

const READ_BYTES = 4 * 1024 * 1024;

/**
 * Reads a file once and computes every asked-for checksum over the whole of it, and, with `partSizes`, over each
 * part (consecutive byte ranges of those sizes, which must add up to the file's size).
 */
export async function fileChecksums(
  path: string,
  algorithms: readonly ChecksumAlgorithm[],
  options: { partSizes?: readonly number[]; onBytes?: (n: number) => void } = {},
): Promise<FileChecksums> {
  const file = await open(path, "r").catch((err: unknown) => {
    throw new TapeError("E_TAPE_IO", `cannot open: ${(err as Error).message}`, { file: path, cause: err });
  });
  try {
    const size = (await file.stat()).size;
    const partSizes = options.partSizes;
    if (partSizes !== undefined && partSizes.reduce((a, b) => a + b, 0) !== size) {
      throw new TapeError(
        "E_TAPE_VALUE",
        `parts of ${partSizes.reduce((a, b) => a + b, 0)} bytes do not cover the file's ${size}`,
        { file: path, field: "partSizes" },
      );
    }
    const whole = algorithms.map((a) => createHasher(a));
    const parts = new Map<ChecksumAlgorithm, string[]>(algorithms.map((a) => [a, []]));
    let part = partSizes === undefined ? [] : algorithms.map((a) => createHasher(a));
    let partIndex = 0;
    let partLeft = partSizes?.[0] ?? Number.POSITIVE_INFINITY;
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    let position = 0;
    while (position < size) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(READ_BYTES, size - position), position);
      if (bytesRead === 0) {
        throw new TapeError("E_TAPE_TRUNCATED", `file shrank to ${position} bytes while read`, {
          file: path,
          offset: position,
        });
      }
      const chunk = buffer.subarray(0, bytesRead);
      for (const h of whole) h.update(chunk);
      // Feed the parts, closing each at its boundary.
      for (let at = 0; partSizes !== undefined && at < bytesRead; ) {
        const n = Math.min(partLeft, bytesRead - at);
        for (const h of part) h.update(chunk.subarray(at, at + n));
        at += n;
        partLeft -= n;
        if (partLeft === 0) {
          algorithms.forEach((a, i) => {
            parts.get(a)!.push(toBase64(part[i]!.digest()));
          });
          part = algorithms.map((a) => createHasher(a));
          partIndex++;
          partLeft = partSizes[partIndex] ?? Number.POSITIVE_INFINITY;
        }
      }
      position += bytesRead;
      options.onBytes?.(bytesRead);
    }
    const full: FileChecksums["full"] = {};
    algorithms.forEach((a, i) => {
      full[a] = toBase64(whole[i]!.digest());
    });
    return { size, full, parts: partSizes === undefined ? {} : Object.fromEntries(parts) };
  } finally {
    await file.close();
  }
}

class Crc32Hasher implements Hasher {
  private crc = 0;
  constructor(private readonly fn: (input: Uint8Array, initial?: number) => number) {}
  update(bytes: Uint8Array): void {
    this.crc = this.fn(bytes, this.crc);
  }
  digest(): Uint8Array {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, this.crc >>> 0);
    return out;
  }
}

class ShaHasher implements Hasher {
  constructor(private readonly hash: Hash) {}
  update(bytes: Uint8Array): void {
    this.hash.update(bytes);
  }
  digest(): Uint8Array {
    return this.hash.digest();
  }
}

class Crc64NvmeNative implements Hasher {
  private state: DataView | undefined;
  constructor(private readonly fn: Crc64Native) {}
  update(bytes: Uint8Array): void {
    this.state = this.state === undefined ? this.fn(bytes) : this.fn(bytes, this.state);
  }
  digest(): Uint8Array {
    if (this.state === undefined) this.state = this.fn(new Uint8Array(0));
    return new Uint8Array(this.state.buffer, this.state.byteOffset, 8).slice();
  }
}

// CRC-64/NVME: reflected polynomial 0x9A6C9329AC4BC9B5, init and final XOR all ones. Slicing by 8 over two
// 32-bit halves (hi, lo) of the state, since JS has no fast 64-bit integers.
const POLY_HI = 0x9a6c9329;
const POLY_LO = 0xac4bc9b5;
let tables: Uint32Array | undefined;

/** 8 tables × 256 entries × (hi, lo). */
function crc64Tables(): Uint32Array {
  if (tables !== undefined) return tables;
  const t = new Uint32Array(8 * 256 * 2);
  for (let i = 0; i < 256; i++) {
    let hi = 0;
    let lo = i;
    for (let k = 0; k < 8; k++) {
      const lsb = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi >>>= 1;
      if (lsb) {
        hi = (hi ^ POLY_HI) >>> 0;
        lo = (lo ^ POLY_LO) >>> 0;
      }
    }
    t[i * 2] = hi;
    t[i * 2 + 1] = lo;
  }
  // Table s: the CRC of byte i followed by s zero bytes.
  for (let s = 1; s < 8; s++) {
    for (let i = 0; i < 256; i++) {
      const prev = ((s - 1) * 256 + i) * 2;
      const phi = t[prev]!;
      const plo = t[prev + 1]!;
      const j = (plo & 0xff) * 2;
      t[(s * 256 + i) * 2] = (phi >>> 8) ^ t[j]!;
      t[(s * 256 + i) * 2 + 1] = (((plo >>> 8) | ((phi & 0xff) << 24)) ^ t[j + 1]!) >>> 0;
    }
  }
  tables = t;
  return t;
}

export class Crc64NvmeJs implements Hasher {
  private hi = 0xffffffff;
  private lo = 0xffffffff;
  private readonly t = crc64Tables();

  update(bytes: Uint8Array): void {
    const t = this.t;
    let hi = this.hi;
    let lo = this.lo;
    let i = 0;
    const end8 = bytes.length - (bytes.length % 8);
    for (; i < end8; i += 8) {
      const a = lo ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
      const b = hi ^ (bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24));
      const i7 = (a & 0xff) * 2 + 7 * 512;
      const i6 = ((a >>> 8) & 0xff) * 2 + 6 * 512;
      const i5 = ((a >>> 16) & 0xff) * 2 + 5 * 512;
      const i4 = (a >>> 24) * 2 + 4 * 512;
      const i3 = (b & 0xff) * 2 + 3 * 512;
      const i2 = ((b >>> 8) & 0xff) * 2 + 2 * 512;
      const i1 = ((b >>> 16) & 0xff) * 2 + 512;
      const i0 = (b >>> 24) * 2;
      hi = t[i7]! ^ t[i6]! ^ t[i5]! ^ t[i4]! ^ t[i3]! ^ t[i2]! ^ t[i1]! ^ t[i0]!;
      lo =
        t[i7 + 1]! ^ t[i6 + 1]! ^ t[i5 + 1]! ^ t[i4 + 1]! ^ t[i3 + 1]! ^ t[i2 + 1]! ^ t[i1 + 1]! ^ t[i0 + 1]!;
    }
    for (; i < bytes.length; i++) {
      const j = ((lo ^ bytes[i]!) & 0xff) * 2;
      lo = ((lo >>> 8) | ((hi & 0xff) << 24)) ^ t[j + 1]!;
      hi = (hi >>> 8) ^ t[j]!;
    }
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
  }

  digest(): Uint8Array {
    const out = new Uint8Array(8);
    const v = new DataView(out.buffer);
    v.setUint32(0, ~this.hi >>> 0);
    v.setUint32(4, ~this.lo >>> 0);
    return out;
  }
}
