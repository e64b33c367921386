/**
 * DataSync's include/exclude filters (`SIMPLE_PATTERN`, `|`-separated patterns relative to the source location)
 * for the local DataSync emulator.
 */

export interface FilterRule {
  FilterType?: string | undefined;
  Value?: string | undefined;
}

/** Throws when a rule is not a SIMPLE_PATTERN, as the real service rejects it. */
export function checkFilterRules(rules: readonly FilterRule[] | undefined, field: string): void {
  if (rules === undefined) return;
  if (rules.length > 1) throw new Error(`${field} takes one filter rule; join patterns with "|"`);
  for (const rule of rules) {
    if (rule.FilterType !== "SIMPLE_PATTERN") throw new Error(`${field}: FilterType must be SIMPLE_PATTERN`);
    if (rule.Value === undefined || rule.Value === "") throw new Error(`${field}: Value must not be empty`);
  }
}

function patternsOf(rules: readonly FilterRule[] | undefined): string[] {
  return (rules ?? []).flatMap((r) => (r.Value ?? "").split("|")).filter((p) => p !== "");
}

function compile(pattern: string): RegExp {
  // `/dir` and `/dir/` mean the same folder.
  let p = pattern.length > 1 && pattern.endsWith("/") ? pattern.slice(0, -1) : pattern;
  // A bare name (no leading `/` or `*`) matches that name at any depth.
  if (!p.startsWith("/") && !p.startsWith("*")) p = `*/${p}`;
  const body = p
    .split("*")
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`);
}

/** `/a/b/c` → `/a`, `/a/b`, `/a/b/c`: a pattern that matches a folder matches everything below it. */
function selfAndAncestors(path: string): string[] {
  const parts = path.split("/").filter((s) => s !== "");
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join("/")}`);
}

/** Decides which files of the source location a transfer takes. */
export class PathFilter {
  private readonly includes: RegExp[];
  private readonly excludes: RegExp[];

  constructor(includes: readonly FilterRule[] | undefined, excludes: readonly FilterRule[] | undefined) {
    this.includes = patternsOf(includes).map(compile);
    this.excludes = patternsOf(excludes).map(compile);
  }

  /** `path` is relative to the source location, with or without a leading `/`. */
  selects(path: string): boolean {
    const candidates = selfAndAncestors(path);
    const hit = (res: RegExp[]) => res.some((re) => candidates.some((c) => re.test(c)));
    if (this.includes.length > 0 && !hit(this.includes)) return false;
    return !hit(this.excludes);
  }
}
