/**
 * A small reader of Go config structs in a git snapshot (`git show <ref>:<file>`), for scripts/upstream-evidence.ts.
 * It follows what the upstream config loaders follow: `yaml:"…"` tags (Loki, Tempo: gopkg.in/yaml), or
 * `mapstructure:"…"` tags (the OpenTelemetry Collector), inline/squash embedding, pointers, slices, maps, type
 * aliases and imports resolved inside the repository (its module path, `vendor/`, or sibling modules of a
 * multi-module repository). It is a reader for evidence, not a Go parser: anything it cannot resolve is reported and
 * left to a hand-written entry.
 */
import { execFileSync } from "child_process";
import * as path from "path";

export type TagKind = "yaml" | "mapstructure";

export interface GoField {
  /** The config key (tag name), or "" for an embedded (inline/squash) field. */
  key: string;
  /** The exact tag text in the file, used as the evidence `match` (e.g. `yaml:"server,omitempty"`). */
  match: string;
  type: string;
  file: string;
  pkgDir: string;
}

export interface GoRepo {
  gitDir: string;
  ref: string;
  /** Module path → directory in the repository ("" = root). */
  modules: Record<string, string>;
}

const cache = new Map<string, string | null>();

export function gitShow(repo: GoRepo, file: string): string | null {
  const k = `${repo.gitDir}\0${repo.ref}\0${file}`;
  if (!cache.has(k)) {
    try {
      cache.set(k, execFileSync("git", ["--git-dir", repo.gitDir, "show", `${repo.ref}:${file}`], { encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "ignore"] }));
    } catch {
      cache.set(k, null);
    }
  }
  return cache.get(k)!;
}

function goFiles(repo: GoRepo, dir: string): string[] {
  try {
    return execFileSync("git", ["--git-dir", repo.gitDir, "ls-tree", "--name-only", `${repo.ref}:${dir}`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .split("\n")
      .filter((f) => f.endsWith(".go") && !f.endsWith("_test.go"))
      .map((f) => (dir ? `${dir}/${f}` : f));
  } catch {
    return [];
  }
}

/** Directory of an import path inside the repository, or undefined when it lives elsewhere. */
export function importDir(repo: GoRepo, importPath: string): string | undefined {
  const mods = Object.keys(repo.modules).sort((a, b) => b.length - a.length);
  for (const m of mods) {
    if (importPath === m || importPath.startsWith(`${m}/`)) {
      return path.posix.join(repo.modules[m], importPath.slice(m.length + 1));
    }
  }
  const vendored = `vendor/${importPath}`;
  return goFiles(repo, vendored).length > 0 ? vendored : undefined;
}

function imports(src: string): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (alias: string | undefined, p: string) => {
    out[alias ?? p.split("/").filter((s) => !/^v\d+$/.test(s)).pop()!] = p;
  };
  for (const m of src.matchAll(/^import\s+(\w+\s+)?"([^"]+)"/gm)) add(m[1]?.trim(), m[2]);
  const block = /^import\s*\(([\s\S]*?)^\)/m.exec(src);
  if (block) for (const m of block[1].matchAll(/^\s*(\w+\s+|_\s+|\.\s+)?"([^"]+)"/gm)) add(m[1]?.trim(), m[2]);
  return out;
}

function tagValue(tags: string, kind: TagKind): { text: string; name: string; opts: string[] } | undefined {
  const m = new RegExp(`${kind}:"([^"]*)"`).exec(tags);
  if (!m) return undefined;
  const [name, ...opts] = m[1].split(",");
  return { text: m[0], name, opts };
}

interface TypeDef {
  kind: "struct" | "alias" | "other";
  body: string;
  file: string;
  pkgDir: string;
  imports: Record<string, string>;
}

function findType(repo: GoRepo, pkgDir: string, name: string): TypeDef | undefined {
  for (const file of goFiles(repo, pkgDir)) {
    const src = gitShow(repo, file);
    if (!src) continue;
    const s = new RegExp(`^type\\s+${name}\\s+struct\\s*\\{`, "m").exec(src);
    if (s) {
      let depth = 1;
      let i = s.index + s[0].length;
      const start = i;
      while (i < src.length && depth > 0) {
        const c = src[i];
        if (c === "`") i = src.indexOf("`", i + 1);
        else if (c === "{") depth++;
        else if (c === "}") depth--;
        i++;
      }
      return { kind: "struct", body: src.slice(start, i - 1), file, pkgDir, imports: imports(src) };
    }
    const a = new RegExp(`^type\\s+${name}\\s*=?\\s*([\\w.*\\[\\]]+)\\s*$`, "m").exec(src);
    if (a) return { kind: "alias", body: a[1], file, pkgDir, imports: imports(src) };
  }
  return undefined;
}

/** Fields of a struct, embedded inline/squash fields flattened. */
export function structFields(repo: GoRepo, pkgDir: string, typeName: string, kind: TagKind, seen = new Set<string>()): GoField[] | undefined {
  const id = `${pkgDir}.${typeName}`;
  if (seen.has(id)) return [];
  seen.add(id);
  const def = findType(repo, pkgDir, typeName);
  if (!def) return undefined;
  if (def.kind === "alias") {
    const t = resolveNamed(repo, def, def.body);
    return t ? structFields(repo, t.pkgDir, t.name, kind, seen) : undefined;
  }
  const out: GoField[] = [];
  let depth = 0;
  for (const raw of def.body.split("\n")) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    // Skip the insides of anonymous nested structs (their own keys are not followed here).
    const opens = (line.match(/\{/g) ?? []).length;
    const closes = (line.match(/\}/g) ?? []).length;
    if (depth > 0) {
      depth += opens - closes;
      continue;
    }
    depth += opens - closes;
    if (line === "") continue;
    const embedded = /^(\*?[\w.]+)\s*(`[^`]*`)?$/.exec(line);
    const named = embedded ? null : /^(\w+)\s+([^`\s][^`]*?)\s*(`[^`]*`)?$/.exec(line);
    if (named) {
      const [, fieldName, type, tags = ""] = named;
      if (!/^[A-Z]/.test(fieldName)) continue;
      const t = tagValue(tags, kind);
      if (t?.name === "-") continue;
      if (t && t.name === "" && t.opts.some((o) => o === "inline" || o === "squash")) {
        const r = resolveNamed(repo, def, type);
        const inner = r && structFields(repo, r.pkgDir, r.name, kind, seen);
        if (inner) out.push(...inner);
        continue;
      }
      out.push({ key: t?.name || fieldName.toLowerCase(), match: t?.text ?? fieldName, type, file: def.file, pkgDir: def.pkgDir });
    } else if (embedded) {
      const [, type, tags = ""] = embedded;
      const t = tagValue(tags, kind);
      if (t?.name === "-") continue;
      // yaml.v2/v3 only inline with `,inline`; mapstructure squashes embedded structs only with `,squash`.
      const inline = t ? t.name === "" && t.opts.some((o) => o === "inline" || o === "squash") : false;
      if (inline) {
        const r = resolveNamed(repo, def, type);
        const inner = r && structFields(repo, r.pkgDir, r.name, kind, seen);
        if (inner) out.push(...inner);
      } else if (t) {
        out.push({ key: t.name, match: t.text, type, file: def.file, pkgDir: def.pkgDir });
      }
    }
  }
  return out;
}

function resolveNamed(repo: GoRepo, def: { pkgDir: string; imports: Record<string, string> }, type: string): { pkgDir: string; name: string } | undefined {
  const t = type.replace(/^\*/, "");
  const q = /^(\w+)\.(\w+)$/.exec(t);
  if (q) {
    const imp = def.imports[q[1]];
    const dir = imp && importDir(repo, imp);
    return dir === undefined ? undefined : { pkgDir: dir, name: q[2] };
  }
  return /^\w+$/.test(t) ? { pkgDir: def.pkgDir, name: t } : undefined;
}

export type Shape =
  | { kind: "struct"; pkgDir: string; name: string }
  | { kind: "list"; of: Shape }
  | { kind: "map"; of: Shape }
  | { kind: "scalar" }
  | { kind: "unknown"; type: string };

/** What a field's type is, as far as key paths go. */
export function shapeOf(repo: GoRepo, at: { pkgDir: string; file: string }, type: string): Shape {
  const t = type.trim().replace(/^\*/, "");
  // configoptional.Optional[T] (the collector's optional sections) unmarshals as T.
  const opt = /^\w+\.Optional\[(.+)\]$/.exec(t);
  if (opt) return shapeOf(repo, at, opt[1]);
  if (t.startsWith("[]")) return { kind: "list", of: shapeOf(repo, at, t.slice(2)) };
  const m = /^map\[[^\]]+\](.+)$/.exec(t);
  if (m) return { kind: "map", of: shapeOf(repo, at, m[1]) };
  if (/^(u?int\d*|float\d+|bool|string|byte|rune|any|interface\{\}|time\.Duration)$/.test(t)) return { kind: "scalar" };
  const src = gitShow(repo, at.file) ?? "";
  const r = resolveNamed(repo, { pkgDir: at.pkgDir, imports: imports(src) }, t);
  if (!r) return { kind: "unknown", type: t };
  const def = findType(repo, r.pkgDir, r.name);
  if (!def) return { kind: "unknown", type: t };
  if (def.kind === "struct") return { kind: "struct", pkgDir: r.pkgDir, name: r.name };
  if (def.kind === "alias") return shapeOf(repo, { pkgDir: def.pkgDir, file: def.file }, def.body);
  return { kind: "scalar" };
}
