/**
 * Collects every configuration mistake before anything is created, so the user fixes them in one go
 * (like pulumi-eks's InputPropertiesError). Each problem names the config key.
 */
import { distance } from "fastest-levenshtein";

export interface ConfigProblem {
  /** Fully qualified key, with a path into structured values: `monitoring-hosts:alertReceivers[1].type`. */
  key: string;
  message: string;
}

export class ConfigProblems {
  readonly items: ConfigProblem[] = [];

  /** The key is shown with invisible characters escaped: a zero-width space in a key must be visible in the error. */
  add(key: string, message: string): void {
    this.items.push({ key: escapeInvisible(key), message });
  }

  get empty(): boolean {
    return this.items.length === 0;
  }

  throwIfAny(stack: string): void {
    if (!this.empty) throw new ConfigError(stack, this.items);
  }
}

export class ConfigError extends Error {
  constructor(
    readonly stack: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `Stack "${stack}" has ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n") +
        `\nFix them with \`pulumi config set <key> <value> --stack ${stack}\` (or edit Pulumi.${stack}.yaml); ` +
        "docs/configuration.md describes every key.",
    );
    this.name = "ConfigError";
  }
}

/**
 * Characters a terminal does not show: controls, soft hyphen, zero-width and bidi marks, word joiners, BOM. A key
 * or value containing one looks right and is still wrong, so messages show them as `\u200b`.
 */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;

export function hasInvisible(text: string): boolean {
  return new RegExp(INVISIBLE.source).test(text);
}

export function escapeInvisible(text: string): string {
  return text.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Renders a user-supplied value for an error message without dumping huge or structured blobs. */
export function show(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  // JSON escapes the C0 controls but leaves zero-width and bidi characters as they are: escape those too.
  const visible = escapeInvisible(text);
  return visible.length > 80 ? `${visible.slice(0, 77)}...` : visible;
}

/**
 * The candidate a mistyped word was most likely meant to be, by Levenshtein edit distance (case and invisible
 * characters ignored), or undefined when none is close: at most 1 edit for short words, about one in four for
 * longer ones, so `metricRetention` finds `metricsRetention` but `foo` does not find `tags`.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.replace(INVISIBLE, "").toLowerCase();
  const w = norm(word);
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(w, norm(c));
    if (!best || d < best.d) best = { c, d };
  }
  if (!best) return undefined;
  const limit = w.length <= 4 ? 1 : Math.max(2, Math.floor(w.length / 4));
  return best.d <= limit ? best.c : undefined;
}

/** `; did you mean "x"?` when a candidate is close, else an empty string. */
export function didYouMean(word: unknown, candidates: readonly string[], render: (c: string) => string = (c) => JSON.stringify(c)): string {
  if (typeof word !== "string") return "";
  const c = closest(word, candidates);
  return c === undefined ? "" : `; did you mean ${render(c)}?`;
}

/** Files a problem under `key` for each value listed more than once. */
export function reportDuplicates(p: ConfigProblems, key: string, values: string[]): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) p.add(key, `lists ${show(v)} more than once; each entry must be unique`);
    seen.add(v);
  }
}
