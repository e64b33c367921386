import { describe, expect, it } from "vitest";
import { isRetryable, ShortBodyError } from "../../src/s3/retry.js";

/** An error shaped as the AWS SDK throws them for an HTTP answer. */
function answered(status: number, name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

describe("which S3 failures are tried again", () => {
  it("server errors, throttling, timeouts, dropped connections and short bodies are", () => {
    expect(isRetryable(answered(503, "SlowDown", "Please reduce your request rate."))).toBe(true);
    expect(isRetryable(answered(500, "InternalError", "We encountered an internal error."))).toBe(true);
    expect(isRetryable(answered(429, "TooManyRequests", "slow down"))).toBe(true);
    expect(isRetryable(Object.assign(new Error("timed out"), { name: "TimeoutError" }))).toBe(true);
    expect(isRetryable(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))).toBe(true);
    expect(isRetryable(new Error("socket hang up"))).toBe(true);
    expect(isRetryable(new Error("The operation was aborted"))).toBe(true);
    expect(isRetryable(new ShortBodyError("got 10 of 20 bytes"))).toBe(true);
  });

  it("a refusal for a skewed clock is tried again once the SDK has corrected its offset", () => {
    const skewed = () =>
      answered(
        403,
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
      );
    expect(isRetryable(skewed())).toBe(false);
    const corrected = skewed() as Error & { $metadata: { clockSkewCorrected?: boolean } };
    corrected.$metadata.clockSkewCorrected = true;
    expect(isRetryable(corrected)).toBe(true);
  });

  it("an answer that refuses the request is final, whatever its message says", () => {
    const noSuchUpload = answered(
      404,
      "NoSuchUpload",
      "The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.",
    );
    expect(isRetryable(noSuchUpload)).toBe(false);
    expect(isRetryable(answered(403, "AccessDenied", "Access Denied"))).toBe(false);
    expect(isRetryable(answered(404, "NoSuchKey", "The specified key does not exist."))).toBe(false);
    expect(isRetryable("not an error")).toBe(false);
  });
});
