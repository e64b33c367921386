/** Whether a parsed JSON value is an object (not null, not an array): what a reader of JSON files checks first. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
