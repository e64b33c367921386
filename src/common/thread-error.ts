/**
 * Errors across worker threads: a structured clone keeps an error's message but not its class, so a TapeError is
 * sent as its parts and made again on the other side, with its code and where it happened.
 */
import { TapeError, type TapeErrorCode } from "../format/errors.js";

export interface ThreadError {
  message: string;
  /** The `code` of an error that is not a TapeError (e.g. "ENOMEM"), kept for callers that test it. */
  code: string | null;
  tape: { code: TapeErrorCode; reason: string; file?: string; offset?: number; field?: string } | null;
}

export function toThreadError(err: unknown): ThreadError {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = "code" in e && typeof e.code === "string" ? e.code : null;
  return {
    message: e.message,
    code,
    tape:
      e instanceof TapeError
        ? {
            code: e.code,
            reason: e.reason,
            ...(e.file === undefined ? {} : { file: e.file }),
            ...(e.offset === undefined ? {} : { offset: e.offset }),
            ...(e.field === undefined ? {} : { field: e.field }),
          }
        : null,
  };
}

export function fromThreadError(e: ThreadError): Error {
  if (e.tape === null) return Object.assign(new Error(e.message), e.code === null ? {} : { code: e.code });
  const { code, reason, ...where } = e.tape;
  return new TapeError(code, reason, where);
}
