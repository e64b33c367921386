/**
 * Which failed S3 requests are worth trying again, and how long to wait before the next try: throttling, server
 * errors, timeouts, dropped connections and bodies cut short are; a missing object, a denied request or an
 * object that changed under us are not.
 */

/** Error names S3 and the SDK use for throttling. */
const THROTTLING = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
]);

/** Error codes of dropped or stalled connections (Node and the SDK's HTTP handler). */
const NETWORK = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

interface SdkLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** Raised by our own checks when a response body is shorter than the range asked for. */
export class ShortBodyError extends Error {
  override readonly name = "ShortBodyError";
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof ShortBodyError) return true;
  if (typeof err !== "object" || err === null) return false;
  const e = err as SdkLikeError;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (e.$retryable !== undefined) return true;
  if (e.name !== undefined && THROTTLING.has(e.name)) return true;
  // Our per-request deadline, and the HTTP handler's own timeouts.
  if (e.name === "TimeoutError" || e.name === "AbortError") return true;
  if (e.code !== undefined && NETWORK.has(e.code)) return true;
  // A refusal for a clock off by minutes, which the SDK has just corrected: the next try is signed right.
  if ((err as { $metadata?: { clockSkewCorrected?: boolean } }).$metadata?.clockSkewCorrected === true)
    return true;
  // A connection lost on the way says so only in its message; an answer the server gave (a 4xx) is final, whatever
  // its message says (NoSuchUpload's names an upload "aborted").
  if (status !== undefined) return false;
  return /socket hang up|ECONNRESET|premature close|aborted/i.test(e.message ?? "");
}

/** Full-jitter exponential backoff: a random wait up to base·2^attempt, capped. */
export function backoffMs(attempt: number, baseMs: number, capMs = 20_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

/** The HTTP status of an SDK error, when it has one. */
export function httpStatusOf(err: unknown): number | undefined {
  return typeof err === "object" && err !== null
    ? (err as SdkLikeError).$metadata?.httpStatusCode
    : undefined;
}
