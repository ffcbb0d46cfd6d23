/**
 * `npm run render -- <stack> [--out <dir>] [--no-validate]`: renders everything a monitoring host gets, offline
 * (no Pulumi CLI, no AWS, no secrets), into out/<stack>/ mirroring host paths, plus out/<stack>/user-data.yaml and
 * out/<stack>/bundle.json (an HA pair: the second host into out/<stack>-host-1/), then checks them with the real
 * validators that are installed. Exits non-zero on a
 * configuration error (its message, no stack trace) or a failed check.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError } from "../config/config-problems";
import { loadStackConfig } from "../config/loader";
import { StackConfig } from "../config/stack-config";
import { FileConfigSource } from "../config/config-source";
import { AGENT, PROMETHEUS_RULES_DIR, SERVICES } from "../layout/host-layout";
import { buildBundle, bundleJson } from "../hostfiles/bundle";
import { renderUserData } from "../hostfiles/user-data";
import { placeholderBundleContext, placeholderPair, placeholderUserDataContext, HostFile } from "../layout/host-file";
import { COMPONENTS } from "../config/release-manifest";
import { resolveComponents } from "../hostfiles/versions";
import { renderRunbooks, rewriteLinks } from "../dashboards/runbooks";
import { runbookPath } from "../rules/runbook-links";
import { buildSloModels } from "../rules/slo-model";

export const PROJECT_DIR = path.resolve(__dirname, "..");

export interface Rendered {
  cfg: StackConfig;
  files: HostFile[];
  userData: string;
  bundle: string;
  missingSecrets: string[];
}

/** Secrets the stack file does not set at all (encrypted ones are fine: the render never needs their values). */
export function missingSecrets(source: FileConfigSource, cfg: StackConfig): string[] {
  const missing: string[] = [];
  if (source.get(`${cfg.project}:grafanaAdminPassword`) === undefined) missing.push(`${cfg.project}:grafanaAdminPassword`);
  for (const r of cfg.alerting.receivers) {
    const needsSecret = r.type !== "email" || r.authUsername !== undefined;
    if (needsSecret && !r.secret) missing.push(`${cfg.project}:alertReceiverSecrets.${r.name}`);
  }
  return missing;
}

/** A stack's config as the offline render loads it (secrets may be unset), with optional overrides (`npm run local`). */
export function renderStackConfig(stack: string, overrides: Record<string, unknown> = {}, secrets: Record<string, unknown> = {}, dir: string = PROJECT_DIR): StackConfig {
  return loadStackConfig(new FileConfigSource(stack, dir, overrides, secrets), { requireSecrets: false });
}

/** A stack's files for one host: host 0, or with `hosts: 2` either host of the pair (its own side, docs/ha-pair.md). */
export function renderStack(stack: string, dir: string = PROJECT_DIR, host = 0): Rendered {
  const source = new FileConfigSource(stack, dir);
  const cfg = loadStackConfig(source, { requireSecrets: false });
  const bundle = buildBundle(cfg, { ...placeholderBundleContext(stack), ...(cfg.hosts === 2 ? { pair: placeholderPair(host) } : {}) });
  return {
    cfg,
    files: bundle.files,
    userData: renderUserData(cfg, placeholderUserDataContext(stack, host)),
    bundle: bundleJson(cfg, bundle),
    missingSecrets: missingSecrets(source, cfg),
  };
}

/** Writes every file under `outDir` at its host path, plus user-data.yaml and bundle.json. */
export function writeRendered(r: Rendered, outDir: string): void {
  fs.rmSync(outDir, { recursive: true, force: true });
  for (const f of r.files) {
    const p = path.join(outDir, f.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, f.content, { mode: parseInt(f.mode, 8) });
    fs.chmodSync(p, parseInt(f.mode, 8));
  }
  fs.writeFileSync(path.join(outDir, "user-data.yaml"), r.userData);
  fs.writeFileSync(path.join(outDir, "bundle.json"), r.bundle);
  // The runbooks as markdown, for teams that publish them and set runbookBaseUrl (alerts link <base>/<path>).
  for (const rb of publishedRunbooks(r.cfg)) {
    const p = path.join(outDir, RUNBOOKS_OUT, rb.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, rb.markdown);
  }
}

/** Where `writeRendered` puts the runbooks (below out/<stack>/). */
export const RUNBOOKS_OUT = "runbooks";

/** Every runbook of the stack at its published path; links between runbooks relative to the page. */
export function publishedRunbooks(cfg: StackConfig): { path: string; markdown: string }[] {
  return renderRunbooks(cfg, buildSloModels(cfg)).map((rb) => {
    const own = runbookPath(rb.ref);
    const up = "../".repeat(own.split("/").length - 1);
    return { path: own, markdown: rewriteLinks(rb.markdown, (ref) => `${up}${runbookPath(ref)}`) };
  });
}

export interface Check {
  name: string;
  status: "ok" | "failed" | "skipped";
  detail?: string;
}

function tool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`]).status === 0;
}

function exec(cmd: string, args: string[], cwd?: string) {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd, timeout: 120_000 });
  return { status: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim(), stderr: (r.stderr ?? "").trim() };
}

/** The host binaries the units start: on this machine they are absent, and verify says so (and only that). */
export function hostExecutables(): string[] {
  return [...Object.values(SERVICES).map((s) => s.bin), AGENT.syncScript, AGENT.applyScript, AGENT.secretsScript, AGENT.prometheusStart];
}

/** `systemd-analyze verify` stderr minus the expected "not executable" lines for host binaries absent here. */
export function unexpectedVerifyOutput(stderr: string, absentExecutables: string[] = hostExecutables()): string[] {
  const expected = new Set(absentExecutables);
  return stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .filter((l) => {
      const m = /^\S+: Command (\S+) is not executable: No such file or directory$/.exec(l);
      return !(m && expected.has(m[1]));
    });
}

/** Shell scripts among the files (by shebang), plus those embedded in the user data's write_files. */
export function shellScripts(r: Rendered): { name: string; content: string }[] {
  const isShell = (c: string) => /^#!\/(usr\/)?bin\/(env )?(ba)?sh\b/.test(c);
  const scripts = r.files.filter((f) => isShell(f.content)).map((f) => ({ name: f.path, content: f.content }));
  const doc = YAML.parse(r.userData) as { write_files?: { path: string; content: string }[] };
  for (const wf of doc.write_files ?? []) {
    if (isShell(wf.content)) scripts.push({ name: `user-data:${wf.path}`, content: wf.content });
  }
  return scripts;
}

/**
 * `systemd-analyze verify` and `security` (exposure at most 2.0) of unit files, ignoring only the "not executable"
 * lines of `absentExecutables` (binaries installed on the host, not here). Shared by the host and the app agent.
 */
export function checkUnits(units: { name: string; content: string }[], scratch: string, absentExecutables: string[]): Check[] {
  if (!tool("systemd-analyze")) return [{ name: "systemd-analyze", status: "skipped", detail: "systemd-analyze not installed" }];
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail?: string) => checks.push({ name, status: ok ? "ok" : "failed", detail });
  const unitDir = fs.mkdtempSync(path.join(scratch, "units-"));
  for (const u of units) fs.writeFileSync(path.join(unitDir, u.name), u.content);
  for (const { name } of units) {
    const v = exec("systemd-analyze", ["verify", `./${name}`], unitDir);
    const unexpected = unexpectedVerifyOutput(v.stderr, absentExecutables);
    add(`systemd-analyze verify ${name}`, unexpected.length === 0, unexpected.join("\n"));
    // Exposure scores exist for services only (timers and path units run nothing themselves).
    if (name.endsWith(".service")) {
      const sec = exec("systemd-analyze", ["security", "--offline=true", "--threshold=20", `./${name}`], unitDir);
      const score = /Overall exposure level for \S+: ([\d.]+)/.exec(sec.out)?.[1] ?? "?";
      add(`systemd-analyze security ${name}: ${score}`, sec.status === 0, sec.status === 0 ? undefined : sec.out.split("\n").slice(-3).join("\n"));
    }
  }
  return checks;
}

/** `shellcheck` of each script. */
export function checkScripts(scripts: { name: string; content: string }[], scratch: string): Check[] {
  if (!tool("shellcheck")) return [{ name: "shellcheck", status: "skipped", detail: "shellcheck not installed" }];
  return scripts.map((sc, i) => {
    const f = path.join(scratch, `script-${i}.sh`);
    fs.writeFileSync(f, sc.content);
    const res = exec("shellcheck", [f]);
    return { name: `shellcheck ${sc.name}`, status: res.status === 0 ? "ok" : "failed", detail: res.out };
  });
}

export function validate(r: Rendered, outDir: string): Check[] {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail?: string) => checks.push({ name, status: ok ? "ok" : "failed", detail });
  const skip = (name: string, t: string) => checks.push({ name, status: "skipped", detail: `${t} not installed` });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "render-check-"));
  try {
    if (tool("cloud-init")) {
      const res = exec("cloud-init", ["schema", "--config-file", path.join(outDir, "user-data.yaml")]);
      add(`cloud-init schema user-data.yaml (${Buffer.byteLength(r.userData)} bytes)`, res.status === 0 && /Valid cloud-config/.test(res.out), res.out);
    } else skip("cloud-init schema", "cloud-init");

    const promYml = path.join(outDir, SERVICES.prometheus.config);
    if (!tool("promtool")) skip("promtool", "promtool");
    else if (fs.existsSync(promYml)) {
      // rule_files name host paths; point them into outDir so promtool loads the rendered rules.
      const doc = YAML.parse(fs.readFileSync(promYml, "utf8")) as { rule_files?: string[] };
      doc.rule_files = (doc.rule_files ?? []).map((g) => path.join(outDir, g));
      const checked = path.join(scratch, "prometheus.yml");
      fs.writeFileSync(checked, YAML.stringify(doc));
      const res = exec("promtool", ["check", "config", checked]);
      add("promtool check config", res.status === 0, res.out);
      const rulesDir = path.join(outDir, PROMETHEUS_RULES_DIR);
      for (const f of fs.existsSync(rulesDir) ? fs.readdirSync(rulesDir).sort() : []) {
        const rr = exec("promtool", ["check", "rules", path.join(rulesDir, f)]);
        add(`promtool check rules ${PROMETHEUS_RULES_DIR}/${f}`, rr.status === 0, rr.out);
      }
    }

    const amYml = path.join(outDir, SERVICES.alertmanager.config);
    if (!tool("amtool")) skip("amtool check-config", "amtool");
    else if (fs.existsSync(amYml)) {
      const version = /version (\d+)\.(\d+)/.exec(exec("amtool", ["--version"]).out);
      let text = fs.readFileSync(amYml, "utf8");
      let note = "";
      if (version && Number(version[1]) === 0 && Number(version[2]) < 26) {
        // Webhook url_file exists since 0.26 (the host runs a newer release): check a url in its place.
        const doc = YAML.parse(text) as { receivers?: { webhook_configs?: Record<string, unknown>[] }[] };
        for (const rcv of doc.receivers ?? [])
          for (const w of rcv.webhook_configs ?? [])
            if ("url_file" in w) {
              delete w.url_file;
              w.url = "https://webhook.invalid/checked-by-amtool-before-0.26";
              note = " (webhook url_file checked as url: amtool < 0.26)";
            }
        text = YAML.stringify(doc);
      }
      const checked = path.join(scratch, "alertmanager.yml");
      fs.writeFileSync(checked, text);
      const res = exec("amtool", ["check-config", checked]);
      add(`amtool check-config${note}`, res.status === 0, res.out);
    }

    const units = r.files.filter((f) => /\.(service|timer|path)$/.test(f.path)).map((f) => ({ name: path.basename(f.path), content: f.content }));
    checks.push(...checkUnits(units, scratch, hostExecutables()));
    checks.push(...checkScripts(shellScripts(r), scratch));
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return checks;
}

function main(argv: string[]): number {
  const option = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
  const optionValues = new Set([option("--out"), option("--project")]);
  const stack = argv.find((a) => !a.startsWith("--") && !optionValues.has(a));
  if (!stack) {
    console.error("usage: npm run render -- <stack> [--out <dir>] [--project <dir with Pulumi.yaml>] [--no-validate]");
    return 2;
  }
  const projectDir = path.resolve(option("--project") ?? PROJECT_DIR);
  let r: Rendered;
  try {
    r = renderStack(stack, projectDir);
  } catch (e) {
    if (e instanceof ConfigError || (e instanceof Error && /^No stack file/.test(e.message))) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
  if (r.missingSecrets.length > 0) {
    console.warn(
      `warning: ${r.missingSecrets.length} secret(s) not set for stack ${stack} (fine offline; \`pulumi up\` needs them):\n` +
        r.missingSecrets.map((k) => `  - ${k}`).join("\n"),
    );
  }
  const outDir = path.resolve(option("--out") ?? path.join(projectDir, "out", stack));
  // An HA pair: the second host's files beside the first's, in <out>-host-1 (each host's own side of the pair).
  const hosts = [{ r, outDir }, ...(r.cfg.hosts === 2 ? [{ r: renderStack(stack, projectDir, 1), outDir: `${outDir}-host-1` }] : [])];
  for (const h of hosts) {
    writeRendered(h.r, h.outDir);
    console.log(`rendered ${h.r.files.length} host files, user-data.yaml (${Buffer.byteLength(h.r.userData)} bytes) and bundle.json (${Buffer.byteLength(h.r.bundle)} bytes) into ${path.relative(process.cwd(), h.outDir) || "."}`);
  }
  const pinned = Object.entries(COMPONENTS).map(([n, c]) => `${n} ${c.version}`);
  console.log(`pinned versions (${r.cfg.architecture}): ${pinned.join(", ")}`);
  const operator = resolveComponents(r.cfg.architecture, r.cfg.releaseDigests).filter((c) => c.pinnedBy === "releaseDigests");
  if (operator.length > 0) console.log(`digests from releaseDigests (not from config/release-manifest.ts): ${operator.map((c) => c.artifact).join(", ")}`);
  if (argv.includes("--no-validate")) return 0;

  return reportChecks(hosts.flatMap((h) => validate(h.r, h.outDir)));
}

/** Prints one line per check (details of failures indented) and a summary; returns the exit code. */
export function reportChecks(checks: Check[]): number {
  for (const c of checks) {
    const mark = c.status === "ok" ? "ok     " : c.status === "failed" ? "FAILED " : "skipped";
    console.log(`  ${mark} ${c.name}${c.status === "skipped" && c.detail ? ` (${c.detail})` : ""}`);
    if (c.status === "failed" && c.detail) console.log(c.detail.replace(/^/gm, "          "));
  }
  const failed = checks.filter((c) => c.status === "failed").length;
  const skipped = checks.filter((c) => c.status === "skipped").length;
  console.log(`checks: ${checks.length - failed - skipped} ok, ${failed} failed, ${skipped} skipped`);
  return failed > 0 ? 1 : 0;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
