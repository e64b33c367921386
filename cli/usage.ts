/** Errors in how a command was called: printed without a stack trace, exit code 2. */
export function usage(message: string): Error {
  return Object.assign(new Error(message), { code: "E_USAGE" });
}

/** An option's value as a number > 0 (an integer if asked); undefined when the option was not given. */
export function positive(text: string | undefined, name: string, integer = false): number | undefined {
  if (text === undefined) return undefined;
  // Plain decimal digits only: Number() would also take 0x10, 1e1 or +3.
  const v = (integer ? /^[0-9]+$/ : /^[0-9]*\.?[0-9]+$/).test(text.trim()) ? Number(text) : Number.NaN;
  if (!(v > 0) || !Number.isFinite(v) || (integer && !Number.isSafeInteger(v)))
    throw usage(`${name} must be a positive ${integer ? "integer" : "number"}`);
  return v;
}
