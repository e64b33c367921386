import { describe, expect, it } from "vitest";
import { cacheOptions, s3Options } from "../cli/dataset-options.js";

describe("the S3 and cache options of the dataset commands", () => {
  it("read sizes with units, and refuse what is not a size", () => {
    // The folder may also come from the environment; this test gives it on the command line only.
    delete process.env.TICKTAPE_CACHE_DIR;
    expect(cacheOptions({ cache: "/nvme/c", cacheSize: "50GiB" })).toEqual({
      dir: "/nvme/c",
      maxBytes: 50 * 1024 ** 3,
    });
    expect(cacheOptions({ cache: "/nvme/c", cacheSize: "1.5 MiB" })).toEqual({
      dir: "/nvme/c",
      maxBytes: 1572864,
    });
    expect(cacheOptions({ cache: "/nvme/c", cacheSize: "4096" })).toEqual({ dir: "/nvme/c", maxBytes: 4096 });
    expect(cacheOptions({ cache: "/nvme/c" })).toEqual({ dir: "/nvme/c" });
    for (const bad of ["lots", "10GB", "-1GiB", "0"])
      expect(() => cacheOptions({ cache: "/nvme/c", cacheSize: bad })).toThrow(/--cache-size/);
    expect(() => cacheOptions({ cacheSize: "1GiB" })).toThrow(/needs --cache/);
  });

  it("take the endpoint, region, addressing and checksum mode", () => {
    expect(
      s3Options({
        s3Endpoint: "http://127.0.0.1:9000",
        s3Region: "eu-west-1",
        s3PathStyle: true,
        s3Checksums: "when_required",
      }),
    ).toEqual({
      endpoint: "http://127.0.0.1:9000",
      region: "eu-west-1",
      forcePathStyle: true,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    expect(() => s3Options({ s3Checksums: "always" })).toThrow(/--s3-checksums/);
  });
});
