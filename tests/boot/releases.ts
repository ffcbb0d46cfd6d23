/**
 * The release archives the boot test serves at the pinned URLs (config/release-manifest.ts), under the pinned archive
 * names, so the host's sync step downloads and verifies them and the apply step installs them exactly as it would
 * the real releases. The host verifies against the SHA-256 pinned in the bundle (its `versions`): these
 * archives are not the upstream ones, so `withStandInDigests` pins THEIR digests in the bundle the test uploads
 * (TEST ONLY; nothing else in the bundle changes).
 *
 * - Prometheus, promtool, Alertmanager, amtool and node_exporter are REAL: Debian's binaries (2.42 / 0.25 / 1.5)
 *   repacked under the upstream names (`prometheus-<v>.linux-<arch>/prometheus`, …).
 * - Grafana, Loki, Tempo and otelcol-contrib have no binary on these machines. They get a STAND-IN: a small Python
 *   program installed exactly like the release (same archive name and layout, same binary path,
 *   started by the rendered hardened unit). It reads its rendered config file and its systemd credentials, writes
 *   a marker into its data directory and answers the host's health check on the service's port. A stand-in proves
 *   ONLY the delivery path (download, verification, install, unit, sandbox, secrets, data directory); it never
 *   proves that the real service runs with the rendered config. That is tests/upstream-evidence.spec.ts' job, against
 *   the upstream sources at the pinned tags.
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Architecture } from "../../config/stack-config";
import { GRAFANA_HOME, SERVICE_UNITS, ServiceName, SERVICES } from "../../layout/host-layout";
import { healthChecks } from "../../hostfiles/health-checks";
import { resolveComponents, ResolvedComponent } from "../../hostfiles/versions";

/** Host binary path → the Debian binary that plays it. */
export const REAL_BINARIES: Record<string, string> = {
  [SERVICES.prometheus.bin]: "/usr/bin/prometheus",
  "/usr/local/bin/promtool": "/usr/bin/promtool",
  [SERVICES.alertmanager.bin]: "/usr/bin/prometheus-alertmanager",
  "/usr/local/bin/amtool": "/usr/bin/amtool",
  [SERVICES.nodeExporter.bin]: "/usr/bin/prometheus-node-exporter",
};

/** The services that run for real in the boot test; the others are stand-ins. */
export const REAL_SERVICES: ServiceName[] = ["prometheus", "alertmanager", "nodeExporter"];
export const STANDIN_SERVICES: ServiceName[] = ["grafana", "loki", "tempo", "otelcol"];

/** Debian's Alertmanager build reads its notification templates from here at run time (the guest gets a copy). */
export const DEBIAN_ALERTMANAGER_ASSETS = "/usr/share/prometheus/alertmanager";

/** The stand-in program for a service without a binary here (see the file comment for what it proves). */
export function standInProgram(service: ServiceName): string {
  const s = SERVICES[service];
  // The port the host's own health check asks (hostfiles/health-checks.ts), so the check passes for the stand-in.
  const check = healthChecks().find((c) => c.unit === SERVICE_UNITS[service]);
  if (!check) throw new Error(`no health check for ${service}`);
  const port = Number(new URL(check.url).port);
  return `#!/usr/bin/python3
# BOOT-TEST STAND-IN for ${service} (tests/boot/releases.ts). It proves only the delivery path: that the release
# archive was downloaded, verified and installed, and that the rendered unit starts it under its sandbox with its
# config file, its credentials and its data directory. It does NOT prove that ${service} runs.
import http.server, os, sys

config = ${JSON.stringify(s.config)}
with open(config, "rb") as fh:
    fh.read()
creds = os.environ.get("CREDENTIALS_DIRECTORY")
if creds:
    for name in sorted(os.listdir(creds)):
        with open(os.path.join(creds, name), "rb") as fh:
            if not fh.read():
                sys.exit("stand-in: credential %s is empty" % name)
data = ${JSON.stringify(s.dataDir)}
if data:
    with open(os.path.join(data, "boot-test-stand-in"), "w") as fh:
        fh.write(" ".join(sys.argv) + "\\n")

class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.end_headers()
        self.wfile.write(b"")
    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", ${port}), Health).serve_forever()
`;
}

function sha256(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

function run(cmd: string, args: string[], cwd: string): void {
  const res = spawnSync(cmd, args, { cwd, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${res.stderr}`);
}

/** Stages one component's archive content in <work>/<top>: members named as the pinned release names them. */
function stage(c: ResolvedComponent, work: string): void {
  if ("tree" in c.install) {
    // Grafana: the archive's one top-level directory is installed whole as GRAFANA_HOME.
    const { from, to } = c.install.tree;
    const top = from === "*" ? `grafana-v${c.version}` : from;
    const bin = path.join(work, top, path.relative(to, SERVICES[c.name].bin));
    fs.mkdirSync(path.dirname(bin), { recursive: true });
    fs.writeFileSync(bin, standInProgram(c.name), { mode: 0o755 });
    if (to !== GRAFANA_HOME) throw new Error(`unexpected tree destination ${to}`);
    return;
  }
  for (const [from, to] of Object.entries(c.install.binaries)) {
    const dest = path.join(work, from);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    if (REAL_BINARIES[to]) fs.copyFileSync(REAL_BINARIES[to], dest);
    else if (STANDIN_SERVICES.includes(c.name) && to === SERVICES[c.name].bin) fs.writeFileSync(dest, standInProgram(c.name));
    else throw new Error(`boot test: nothing plays ${to} of ${c.name}`);
    fs.chmodSync(dest, 0o755);
  }
}

/** The stand-in archives of one architecture: the host names to resolve to loopback, and each archive's SHA-256. */
export interface StandInReleases {
  hosts: string[];
  digests: Record<string, string>;
}

/** Writes every pinned archive below <releasesDir>/<host>/<url path>, where the fake download site serves them. */
export function buildReleases(architecture: Architecture, releasesDir: string): StandInReleases {
  const hosts = new Set<string>();
  const digests: Record<string, string> = {};
  for (const c of resolveComponents(architecture)) {
    const url = new URL(c.url);
    hosts.add(url.hostname);
    const out = path.join(releasesDir, url.hostname, url.pathname);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const work = fs.mkdtempSync(path.join(releasesDir, ".stage-"));
    stage(c, work);
    const members = fs.readdirSync(work);
    if (c.archive === "tar.gz") run("tar", ["-I", "gzip -1", "-cf", out, "--owner=0", "--group=0", ...members], work);
    else run("python3", ["-m", "zipfile", "-c", out, ...members], work);
    fs.rmSync(work, { recursive: true, force: true });
    digests[c.name] = sha256(out);
  }
  return { hosts: [...hosts], digests };
}

/**
 * TEST ONLY: the rendered bundle with the stand-in archives' digests pinned instead of the real releases' (the
 * bundle's `versions` list). Every other byte is as rendered.
 */
export function withStandInDigests(bundle: string, digests: Record<string, string>): string {
  const doc = JSON.parse(bundle) as { versions: { name: string; sha256: string | null }[] };
  for (const v of doc.versions) {
    if (!digests[v.name]) throw new Error(`no stand-in archive for ${v.name}`);
    v.sha256 = digests[v.name];
  }
  return `${JSON.stringify(doc, null, 1)}\n`;
}
