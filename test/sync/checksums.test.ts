import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checksumOf, compositeChecksum, crc64Implementation, createHasher } from "../../src/s3/checksums.js";

const hex = (b64: string) => Buffer.from(b64, "base64").toString("hex");

describe("checksums as S3 presents them", () => {
  it("give the catalogue check values of 123456789", () => {
    const s = new TextEncoder().encode("123456789");
    expect(hex(checksumOf("CRC64NVME", s))).toBe("ae8b14860a799888");
    expect(hex(checksumOf("CRC32", s))).toBe("cbf43926");
    expect(hex(checksumOf("CRC32C", s))).toBe("e3069283");
    expect(hex(checksumOf("SHA256", s))).toBe(
      "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
    );
  });

  it("native CRC64NVME equals the JS one over any bytes fed in any pieces", () => {
    expect(crc64Implementation()).toBe("native");
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 5000 }),
        fc.array(fc.nat(5000), { maxLength: 4 }),
        (bytes, cuts) => {
          const native = createHasher("CRC64NVME");
          const js = createHasher("CRC64NVME", { js: true });
          let at = 0;
          for (const c of [...cuts.sort((a, b) => a - b), bytes.length]) {
            const piece = bytes.subarray(at, Math.max(at, Math.min(c, bytes.length)));
            native.update(piece);
            js.update(piece);
            at += piece.length;
          }
          expect(Buffer.from(native.digest()).toString("hex")).toBe(Buffer.from(js.digest()).toString("hex"));
        },
      ),
    );
  });

  it("compose part checksums the way S3 does for multipart objects", () => {
    const parts = [randomBytes(100), randomBytes(50)].map((p) => checksumOf("CRC32", p));
    const raw = Buffer.concat(parts.map((p) => Buffer.from(p, "base64")));
    expect(compositeChecksum("CRC32", parts)).toBe(`${checksumOf("CRC32", raw)}-2`);
  });
});
