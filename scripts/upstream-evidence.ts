/**
 * Builds and re-checks hostfiles/upstream-evidence/*.json from repository snapshots (docs/testing.md, "Upstream
 * evidence"). Needs the snapshots (the `fetch` tool's /work/.mirror/<owner>+<name>/repo, or any bare clone laid
 * out the same way); the tests never run it and need neither network nor snapshots.
 *
 *   npx tsx scripts/upstream-evidence.ts extract <service> [--mirror DIR]
 *       Renders the service's documents for every evidence stack, finds each key path in the upstream config
 *       structs at the evidence's ref (yaml/mapstructure tags, following imports) and adds what it finds to the
 *       evidence file. Entries already there are kept; paths it cannot resolve are printed for a hand-written entry.
 *       With `--at <ref>` it writes nothing and checks that every path it resolves at the evidence's ref resolves
 *       the same way at <ref> (a release branch newer than the newest tag).
 *   npx tsx scripts/upstream-evidence.ts verify [--mirror DIR] [--at src=ref,...]
 *       For every entry: `git show <ref>:<file>` must contain `match`. Sources with no snapshot are listed as
 *       not verifiable here. `npm:<package>` sources are read from the published package (`npm pack`, cached in
 *       the system temp directory). `--at loki=release-3.7.x` checks that source's entries at another ref instead (a
 *       release branch newer than the newest tag, when the pinned version is newer than every tag).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { GoRepo, gitShow, shapeOf, Shape, structFields, TagKind } from "./lib/go-structs";
import { Evidence, EvidenceEntry, evidenceEntries, evidenceFile, joinPath, keyPaths, loadEvidence, parseDocument } from "../tests/support/upstream-evidence";
import { EvidenceService, evidenceStacks, renderedForEvidence } from "../tests/support/evidence-targets";
import { COMPONENTS } from "../config/release-manifest";

interface Root {
  /** Evidence source key. */
  src: string;
  kind: TagKind;
  modules: Record<string, string>;
  /** Key path prefix (segments) → the struct that config below it is read into. */
  structs: Record<string, { pkgDir: string; name: string; kind?: TagKind }>;
}

/** Where each Go service's config is read into, per evidence document. */
const ROOTS: Partial<Record<EvidenceService, Record<string, Root>>> = {
  loki: { config: { src: "loki", kind: "yaml", modules: { "github.com/grafana/loki/v3": "" }, structs: { "": { pkgDir: "pkg/loki", name: "Config" } } } },
  tempo: {
    config: {
      src: "tempo",
      kind: "yaml",
      modules: { "github.com/grafana/tempo": "" },
      structs: {
        "": { pkgDir: "cmd/tempo/app", name: "Config" },
        // The distributor hands `receivers` to the OpenTelemetry Collector receiver factories it vendors
        // (modules/distributor/receiver/shim.go), which read mapstructure tags.
        "distributor.receivers.otlp": { pkgDir: "vendor/go.opentelemetry.io/collector/receiver/otlpreceiver", name: "Config", kind: "mapstructure" },
      },
    },
  },
  otelcol: {
    config: {
      src: "collector",
      kind: "mapstructure",
      modules: { "go.opentelemetry.io/collector": "" },
      structs: {
        "": { pkgDir: "otelcol", name: "Config" },
        "receivers.otlp": { pkgDir: "receiver/otlpreceiver", name: "Config" },
        "processors.memory_limiter": { pkgDir: "processor/memorylimiterprocessor", name: "Config" },
        "processors.batch": { pkgDir: "processor/batchprocessor", name: "Config" },
        "exporters.otlp_grpc": { pkgDir: "exporter/otlpexporter", name: "Config" },
        "exporters.otlp_http": { pkgDir: "exporter/otlphttpexporter", name: "Config" },
        "service.telemetry": { pkgDir: "service/telemetry/otelconftelemetry", name: "Config" },
      },
    },
  },
};

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

/** The unpacked published package of an `npm:<package>` source (npm pack through the ordinary client). */
function npmPackageDir(repo: string, version: string): string {
  const pkg = repo.slice("npm:".length);
  const dir = path.join(os.tmpdir(), "upstream-evidence-npm", `${pkg.replace(/[@/]/g, "_")}-${version}`);
  if (!fs.existsSync(path.join(dir, "package"))) {
    fs.mkdirSync(dir, { recursive: true });
    const tgz = execFileSync("npm", ["pack", `${pkg}@${version}`, "--silent"], { cwd: dir, encoding: "utf8" }).trim().split("\n").pop()!;
    execFileSync("tar", ["xzf", tgz], { cwd: dir });
  }
  return path.join(dir, "package");
}

function gitDir(mirror: string, repo: string): string | undefined {
  const d = path.join(mirror, repo.replace("/", "+"), "repo");
  return fs.existsSync(d) ? d : undefined;
}

function save(service: string, version: string, ev: Evidence): void {
  const sortKeys = (o: Record<string, EvidenceEntry>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
  for (const d of Object.values(ev.documents)) d.keys = sortKeys(d.keys);
  if (ev.flags) ev.flags = sortKeys(ev.flags);
  fs.writeFileSync(evidenceFile(service, version), `${JSON.stringify(ev, null, 2)}\n`);
}

/** Resolves one key path below a struct; returns the entry of its last segment or why not. */
function resolve(repo: GoRepo, root: Root, segments: string[]): { entry?: Omit<EvidenceEntry, "src">; wildcard?: boolean; why?: string } {
  // The longest struct prefix that covers the path.
  const prefixes = Object.keys(root.structs).sort((a, b) => b.length - a.length);
  const prefix = prefixes.find((p) => p === "" || joinPath(segments).startsWith(`${p}.`))!;
  if (prefix !== "" && segments.length === prefix.split(".").length) return { why: "a component root" };
  const rest = prefix === "" ? segments : segments.slice(prefix.split(".").length);
  const start = root.structs[prefix];
  const kind = start.kind ?? root.kind;
  let shape: Shape = { kind: "struct", pkgDir: start.pkgDir, name: start.name };
  let last: Omit<EvidenceEntry, "src"> | undefined;
  for (const seg of rest) {
    const key = seg.replace(/\[[^\]]*\]$/, "");
    const item = seg !== key;
    while (shape.kind === "list" && !item) shape = shape.of;
    if (shape.kind === "map") {
      last = undefined;
      shape = shape.of;
      if (item) while (shape.kind === "list") shape = shape.of;
      continue;
    }
    if (shape.kind !== "struct") return { why: `below a ${shape.kind}${shape.kind === "unknown" ? ` (${shape.type})` : ""}` };
    const fields = structFields(repo, shape.pkgDir, shape.name, kind);
    if (!fields) return { why: `struct ${shape.pkgDir}.${shape.name} not found` };
    const f = fields.find((x) => x.key === key);
    if (!f) return { why: `no ${kind} key "${key}" in ${shape.pkgDir}.${shape.name}` };
    last = { file: f.file, match: f.match };
    shape = shapeOf(repo, f, f.type);
    if (item) while (shape.kind === "list") shape = shape.of;
  }
  return last ? { entry: last } : { wildcard: true };
}

/**
 * Resolves the rendered key paths of a service in the Go structs. `at` set: a check only, at another ref (a release
 * branch newer than the newest tag): every path resolved at the evidence's ref must resolve there too; nothing is
 * written. Otherwise the new paths are added to the evidence file.
 */
function extract(service: EvidenceService, mirror: string, at?: string): void {
  const version = COMPONENTS[service].version;
  const ev = loadEvidence(service, version);
  const roots = ROOTS[service] ?? {};
  const unresolved = new Set<string>();
  if (at) {
    const checked = new Set<string>();
    for (const { stack, cfg, pair } of evidenceStacks()) {
      for (const r of renderedForEvidence(stack, cfg, pair).filter((x) => x.service === service && x.document)) {
        const root = roots[r.document!];
        const doc = ev.documents[r.document!];
        const dir = root && gitDir(mirror, ev.sources[root.src].repo);
        if (!root || !doc || !dir) continue;
        const base: GoRepo = { gitDir: dir, ref: ev.sources[root.src].ref, modules: root.modules };
        for (const p of keyPaths(parseDocument(doc.format, r.content), doc)) {
          if (!resolve(base, root, p).entry) continue;
          checked.add(joinPath(p));
          const res = resolve({ ...base, ref: at }, root, p);
          if (!res.entry) unresolved.add(`${r.document}: ${joinPath(p)} resolves at ${base.ref} but not at ${at} (${res.why})`);
        }
      }
    }
    for (const u of unresolved) console.log(u);
    console.log(`${service}: ${checked.size} key paths resolved at ${at} as at the evidence's ref; ${unresolved.size} did not`);
    process.exitCode = unresolved.size > 0 ? 1 : 0;
    return;
  }
  for (const { stack, cfg, pair } of evidenceStacks()) {
    for (const r of renderedForEvidence(stack, cfg, pair).filter((x) => x.service === service && x.document)) {
      const root = roots[r.document!];
      const doc = ev.documents[r.document!];
      if (!root || !doc) continue;
      const src = ev.sources[root.src];
      const dir = gitDir(mirror, src.repo);
      if (!dir) throw new Error(`no snapshot of ${src.repo} under ${mirror}`);
      const repo: GoRepo = { gitDir: dir, ref: src.ref, modules: root.modules };
      for (const p of keyPaths(parseDocument(doc.format, r.content), doc)) {
        const k = joinPath(p);
        if (doc.keys[k]) continue;
        const res = resolve(repo, root, p);
        if (res.entry) doc.keys[k] = { src: root.src, ...res.entry };
        else unresolved.add(`${r.document}: ${k}${res.why ? ` (${res.why})` : " (inside a map: write a wildcard entry)"}`);
      }
    }
  }
  save(service, version, ev);
  for (const u of unresolved) console.log(`unresolved: ${u}`);
}

function verify(mirror: string, at: Record<string, string>): number {
  let bad = 0;
  for (const f of fs.readdirSync(path.dirname(evidenceFile("x", "0"))).filter((n) => n.endsWith(".json"))) {
    const ev = JSON.parse(fs.readFileSync(path.join(path.dirname(evidenceFile("x", "0")), f), "utf8")) as Evidence;
    const unverifiable = new Set<string>();
    let ok = 0;
    for (const { where, entry } of evidenceEntries(ev)) {
      const src = ev.sources[entry.src];
      if (src?.repo.startsWith("npm:")) {
        const file = path.join(npmPackageDir(src.repo, src.ref), entry.file);
        const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
        if (text === null || !text.includes(entry.match)) {
          bad++;
          console.log(`${f}: ${where}: ${src.repo}@${src.ref}:${entry.file} ${text === null ? "does not exist" : `does not contain ${entry.match}`}`);
        } else ok++;
        continue;
      }
      const dir = src && gitDir(mirror, src.repo);
      if (!dir) {
        unverifiable.add(src ? `${src.repo}@${src.ref}` : `unknown source "${entry.src}"`);
        continue;
      }
      const ref = at[entry.src] ?? src.ref;
      const text = gitShow({ gitDir: dir, ref, modules: {} }, entry.file);
      if (text === null || !text.includes(entry.match)) {
        bad++;
        console.log(`${f}: ${where}: ${src.repo}@${ref}:${entry.file} ${text === null ? "does not exist" : `does not contain ${entry.match}`}`);
      } else ok++;
    }
    console.log(`${f}: ${ok} entries verified${unverifiable.size ? `; not verifiable here (no snapshot): ${[...unverifiable].join(", ")}` : ""}`);
  }
  return bad;
}

const [cmd, service] = process.argv.slice(2);
const mirror = arg("--mirror", "/work/.mirror");
if (cmd === "extract" && service) extract(service as EvidenceService, mirror, process.argv.includes("--at") ? arg("--at", "") : undefined);
else if (cmd === "verify") {
  const at = Object.fromEntries(arg("--at", "").split(",").filter(Boolean).map((kv) => kv.split("=") as [string, string]));
  process.exitCode = verify(mirror, at) > 0 ? 1 : 0;
}
else {
  console.error("usage: upstream-evidence.ts extract <grafana|loki|tempo|otelcol> [--mirror DIR] [--at REF] | verify [--mirror DIR] [--at src=ref,...]");
  process.exitCode = 2;
}
