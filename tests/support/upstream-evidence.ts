/**
 * Upstream evidence: for services with no binary on the test machines (Grafana, Loki, Tempo, otelcol-contrib), the
 * config keys and command-line flags each upstream accepts at the pinned version, read from its source and stored
 * as data in hostfiles/upstream-evidence/<service>-<version>.json. This module turns a rendered document (YAML, INI)
 * or a flag list into key paths and reports every path the evidence does not list.
 *
 * Generic on purpose: any rendered YAML/INI/flags can be checked against any evidence file; docs/testing.md
 * ("Upstream evidence") describes the format and how to add keys. Nothing here needs network or a snapshot; the
 * snapshots are only read by scripts/upstream-evidence.ts, which re-verifies the entries.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

export const EVIDENCE_DIR = path.resolve(__dirname, "../../hostfiles/upstream-evidence");

/** Where a set of entries was read: one repository at one ref (a tag, or a commit when no tag is available). */
export interface EvidenceSource {
  /** `owner/name` on GitHub, or `npm:<package>` for a published package. */
  repo: string;
  /** The tag (or version) the entries were read at. */
  ref: string;
  /** The commit the ref pointed to in the snapshot read. */
  commit?: string;
  /** Why this ref and not the pinned version's own (e.g. the pinned version is newer than every snapshot tag). */
  note?: string;
}

/** One accepted key path or flag, and the upstream file that accepts it. */
export interface EvidenceEntry {
  /** Key of `sources`. */
  src: string;
  /** Path of the file inside the source at its ref. */
  file: string;
  /** A literal string the file contains at that ref (a struct tag like `yaml:"server"`, a flag name, an ini key). */
  match: string;
  /** Why, when the file alone does not say it (a wildcard, a key only read by a consumer). */
  note?: string;
  /** Further places that must hold too (a component must also be in the distribution's manifest). */
  also?: Omit<EvidenceEntry, "also" | "note" | "values">[];
  /**
   * When the upstream accepts only some values here (an enum, a registered name): the accepted ones. A rendered
   * scalar, or each item of a rendered list of scalars, must be one of them. `also` shows where they are defined.
   */
  values?: string[];
}

export interface EvidenceDocument {
  format: "yaml" | "ini";
  /**
   * Lists of maps whose items are told apart by a field (Grafana data sources by `type`): the item segment becomes
   * `name[<value>]` instead of `name[]`, so per-type keys (jsonData) can be listed per type.
   */
  discriminators?: Record<string, string>;
  /**
   * Parent paths under which a key is a component id `type/name` (the collector's receivers, exporters, ...): the
   * `/name` part is dropped before matching, so `exporters.otlp_grpc/tempo.endpoint` matches `exporters.otlp_grpc.endpoint`.
   */
  componentIds?: string[];
  /** Accepted key paths (see `keyPaths`); a `*` segment matches any one key. */
  keys: Record<string, EvidenceEntry>;
}

export interface Evidence {
  service: string;
  /** The version config/release-manifest.ts pins. */
  pinned: string;
  sources: Record<string, EvidenceSource>;
  documents: Record<string, EvidenceDocument>;
  /** Command-line words: flags as rendered (`-config.file`, `--config`) and positional subcommands (`server`). */
  flags?: Record<string, EvidenceEntry>;
  /**
   * Behaviours read from the source that tests rely on (a default label name, a file read at start), each with a
   * `value` a test can use and the places that show it.
   */
  facts?: Record<string, EvidenceFact>;
}

export interface EvidenceFact {
  statement: string;
  value?: string;
  evidence: EvidenceEntry[];
}

/** A fact of an evidence file; throws naming the file when it is missing. */
export function evidenceFact(evidence: Evidence, id: string): EvidenceFact {
  const f = evidence.facts?.[id];
  if (!f) throw new Error(`hostfiles/upstream-evidence/${evidence.service}-${evidence.pinned}.json has no fact "${id}"`);
  return f;
}

export function evidenceFile(service: string, version: string): string {
  return path.join(EVIDENCE_DIR, `${service}-${version}.json`);
}

export function loadEvidence(service: string, version: string): Evidence {
  const file = evidenceFile(service, version);
  if (!fs.existsSync(file)) {
    throw new Error(`no upstream evidence for ${service} ${version}: expected ${path.relative(process.cwd(), file)} (docs/testing.md, "Upstream evidence")`);
  }
  return JSON.parse(fs.readFileSync(file, "utf8")) as Evidence;
}

/* ---------- key paths ---------- */

/** A segment with a `.` or a quote is written in double quotes (`"auth.anonymous".enabled`). */
function showSegment(s: string): string {
  return /[."]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s;
}

export function joinPath(segments: string[]): string {
  return segments.map(showSegment).join(".");
}

export function splitPath(p: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (quoted) {
      if (c === "\\" && p[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ".") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function segmentMatches(pattern: string, segment: string): boolean {
  return pattern === "*" || pattern === segment || (pattern === "*[]" && segment.endsWith("]"));
}

function pathMatches(pattern: string[], segments: string[]): boolean {
  return pattern.length === segments.length && pattern.every((p, i) => segmentMatches(p, segments[i]));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Every key path of a parsed document, parents before children: `a`, `a.b`; a list of maps `a.list` gives
 * `a.list` and its items' keys under `a.list[]` (or `a.list[<discriminator value>]`). Lists of scalars and scalar
 * values end a path.
 */
export function keyPaths(doc: unknown, options: Pick<EvidenceDocument, "discriminators" | "componentIds"> = {}): string[][] {
  // Deduplicated, in first-seen order.
  const seen = new Set<string>();
  return keyValues(doc, options)
    .map((e) => e.path)
    .filter((p) => {
      const k = joinPath(p);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
}

/** Every key path with the value found there (a path inside a list of maps appears once per item). */
export function keyValues(doc: unknown, options: Pick<EvidenceDocument, "discriminators" | "componentIds"> = {}): { path: string[]; value: unknown }[] {
  const disc = Object.entries(options.discriminators ?? {}).map(([p, field]) => ({ pattern: splitPath(p), field }));
  const ids = (options.componentIds ?? []).map(splitPath);
  const out: { path: string[]; value: unknown }[] = [];
  const walk = (value: unknown, at: string[]): void => {
    if (isMap(value)) {
      for (const [rawKey, child] of Object.entries(value)) {
        const key = ids.some((p) => pathMatches(p, at)) ? rawKey.split("/")[0] : rawKey;
        const here = [...at, key];
        out.push({ path: here, value: child });
        walk(child, here);
      }
    } else if (Array.isArray(value) && value.some(isMap)) {
      const d = disc.find((x) => pathMatches(x.pattern, at));
      const last = at[at.length - 1];
      for (const item of value) {
        const tag = d && isMap(item) ? String(item[d.field] ?? "") : "";
        walk(item, [...at.slice(0, -1), `${last}[${tag}]`]);
      }
    }
  };
  walk(doc, []);
  return out;
}

/** Grafana-style INI: `[section]`, `key = value`, `;`/`#` comments. Keys before any section belong to "" (root). */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = "";
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) return;
    const s = /^\[([^\]]+)\]$/.exec(line);
    if (s) {
      section = s[1].trim();
      out[section] ??= {};
      return;
    }
    const kv = /^([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) throw new Error(`line ${i + 1} is neither a section, a key = value nor a comment: ${raw}`);
    (out[section] ??= {})[kv[1]] = kv[2];
  });
  return out;
}

export function parseDocument(format: EvidenceDocument["format"], content: string): unknown {
  return format === "yaml" ? YAML.parse(content) : parseIni(content);
}

/* ---------- checks ---------- */

/**
 * Problems of one rendered document against one evidence document: one line per key path the evidence does not
 * list, naming the rendered file and the path. Empty when every path is accepted.
 */
export function checkDocument(evidence: Evidence, documentName: string, renderedFile: string, content: string): string[] {
  const doc = evidence.documents[documentName];
  if (!doc) return [`${renderedFile}: evidence for ${evidence.service} ${evidence.pinned} has no document "${documentName}"`];
  const patterns = Object.entries(doc.keys).map(([k, entry]) => ({ pattern: splitPath(k), entry }));
  const where = `hostfiles/upstream-evidence/${evidence.service}-${evidence.pinned}.json (document "${documentName}")`;
  const parsed = parseDocument(doc.format, content);
  const unknownKeys = keyPaths(parsed, doc)
    .filter((p) => !patterns.some(({ pattern }) => pathMatches(pattern, p)))
    .map((p) => `${renderedFile}: key path ${joinPath(p)} is not accepted by ${evidence.service} ${evidence.pinned} according to ${where}`);
  const badValues = keyValues(parsed, doc).flatMap(({ path: p, value }) => {
    const accepted = patterns.find(({ pattern }) => pathMatches(pattern, p))?.entry.values;
    if (!accepted) return [];
    return unacceptedValues(value, accepted).map(
      (v) => `${renderedFile}: ${joinPath(p)} = ${JSON.stringify(v)} is not one of ${JSON.stringify(accepted)}, the values ${evidence.service} ${evidence.pinned} accepts according to ${where}`,
    );
  });
  return [...unknownKeys, ...badValues];
}

/** The scalars of `value` (itself, or the items of a list) that are not in `accepted`. */
function unacceptedValues(value: unknown, accepted: string[]): unknown[] {
  const scalars = Array.isArray(value) ? value : [value];
  return scalars.filter((v) => !accepted.includes(String(v)));
}

/** The name part of a command-line word: `--a.b=c` → `--a.b`; a positional word stays whole. */
export function flagName(word: string): string {
  return word.startsWith("-") ? word.split("=")[0] : word;
}

/** Problems of a rendered command line (without the binary) against the evidence's flags. */
export function checkFlags(evidence: Evidence, unit: string, words: string[]): string[] {
  const flags = evidence.flags ?? {};
  const where = `hostfiles/upstream-evidence/${evidence.service}-${evidence.pinned}.json (flags)`;
  return words.flatMap((word) => {
    const name = flagName(word);
    const entry = flags[name];
    if (!entry) return [`${unit}: command-line word ${name} is not accepted by ${evidence.service} ${evidence.pinned} according to ${where}`];
    const value = word.includes("=") ? word.slice(word.indexOf("=") + 1) : undefined;
    if (entry.values && value !== undefined && !entry.values.includes(value)) {
      return [`${unit}: ${name}=${value} is not one of ${JSON.stringify(entry.values)}, the values ${evidence.service} ${evidence.pinned} accepts according to ${where}`];
    }
    return [];
  });
}

/** Every entry of an evidence file, with where it sits (for integrity checks and the verify script). */
export function evidenceEntries(evidence: Evidence): { where: string; entry: EvidenceEntry }[] {
  const withAlso = (where: string, entry: EvidenceEntry) => [{ where, entry }, ...(entry.also ?? []).map((a) => ({ where: `${where} (also)`, entry: a }))];
  return [
    ...Object.entries(evidence.documents).flatMap(([d, doc]) => Object.entries(doc.keys).flatMap(([k, entry]) => withAlso(`${d}: ${k}`, entry))),
    ...Object.entries(evidence.flags ?? {}).flatMap(([f, entry]) => withAlso(`flags: ${f}`, entry)),
    ...Object.entries(evidence.facts ?? {}).flatMap(([id, fact]) => fact.evidence.flatMap((entry, i) => withAlso(`facts: ${id} [${i}]`, entry))),
  ];
}
