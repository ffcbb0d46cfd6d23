/**
 * Defects found by reading the upstream sources of the services with no binary here (issue 10): each test reads
 * the upstream behaviour from the `facts` of hostfiles/upstream-evidence/*.json (with the file that shows it) and
 * checks the rendered host against it, for dev and prd on both architectures.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { DATASOURCE_UIDS, GRAFANA_DATASOURCES_FILE, GRAFANA_HOME, SERVICE_UNITS, SERVICES } from "../layout/host-layout";
import { unitFiles } from "../hostfiles/units";
import { COMPONENTS } from "../config/release-manifest";
import { evidenceStacks, renderedForEvidence } from "./support/evidence-targets";
import { evidenceFact, loadEvidence, parseIni } from "./support/upstream-evidence";
import { run } from "./support/validators";

type Doc = Record<string, any>;

const fact = (service: "otelcol" | "tempo" | "loki" | "grafana", id: string) => evidenceFact(loadEvidence(service, COMPONENTS[service].version), id);

/** The last value of `Key=` in a unit's [Service] section. */
function serviceSetting(unit: string, key: string): string | undefined {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]).at(-1);
}

/**
 * The proc(5) mount options systemd gives a unit (systemd.exec(5): ProtectProc= → hidepid=, ProcSubset=pid →
 * subset=pid).
 */
function procMountOptions(unit: string): string[] {
  const opts: string[] = [];
  const protect = serviceSetting(unit, "ProtectProc");
  if (protect && protect !== "default") opts.push(`hidepid=${protect}`);
  if (serviceSetting(unit, "ProcSubset") === "pid") opts.push("subset=pid");
  return opts;
}

/** What systemd's ProcSubset=pid leaves in /proc besides the process directories (proc(5), `subset=pid`). */
const PID_SUBSET_ENTRIES = new Set(["self", "thread-self"]);

function needsTotalMemory(config: Doc): boolean {
  return Object.entries(config.processors ?? {}).some(([id, p]) => id.split("/")[0] === "memory_limiter" && !(p as Doc)?.limit_mib);
}

describe("defects the upstream sources show (issue 10)", () => {
  for (const { name, stack, cfg, pair } of evidenceStacks()) {
    describe(`stack ${name}`, () => {
      const rendered = renderedForEvidence(stack, cfg, pair);
      const yamlOf = (p: string): Doc => YAML.parse(rendered.find((r) => r.path === p)!.content) as Doc;
      const otelcolUnit = unitFiles(cfg).find((u) => path.basename(u.path) === SERVICE_UNITS.otelcol)!.content;

      it("the collector's sandbox shows the memory limiter the file it needs at start (else it exits)", () => {
        const needed = fact("otelcol", "memory-limiter-total-memory").value!;
        if (!needsTotalMemory(yamlOf(SERVICES.otelcol.config))) return;
        const entry = path.posix.relative("/proc", needed);
        const hidden = procMountOptions(otelcolUnit).includes("subset=pid") && !PID_SUBSET_ENTRIES.has(entry) && !/^\d+$/.test(entry);
        assert.ok(!hidden, `${SERVICE_UNITS.otelcol} mounts /proc with ${procMountOptions(otelcolUnit).join(",")}: ${needed} is hidden, memory_limiter cannot build and the collector exits`);
      });

      it("links every exemplar to Tempo: the labels the collector and Tempo's generator write are both destinations", () => {
        const tempo = yamlOf(SERVICES.tempo.config);
        const generatorLabel = tempo.overrides?.defaults?.metrics_generator?.trace_id_label_name ?? fact("tempo", "generator-exemplar-trace-label").value;
        const collectorLabel = fact("otelcol", "prometheus-exporter-exemplar-trace-label").value;
        const prom = (yamlOf(GRAFANA_DATASOURCES_FILE).datasources as Doc[]).find((d) => d.type === "prometheus")!;
        const destinations = (prom.jsonData.exemplarTraceIdDestinations as Doc[]).filter((d) => d.datasourceUid === DATASOURCE_UIDS.tempo).map((d) => d.name);
        for (const [who, label] of [["Tempo's metrics-generator", generatorLabel], ["the collector's prometheus exporter", collectorLabel]]) {
          assert.ok(destinations.includes(label), `${who} labels exemplars "${label}", but exemplarTraceIdDestinations only has ${JSON.stringify(destinations)}`);
        }
      });

      it("Grafana, which has no network, keeps the Tempo data source its archive ships instead of fetching one at start", () => {
        const shipped = fact("grafana", "data-sources-preinstalled");
        const bundledDir = path.posix.join(GRAFANA_HOME, fact("grafana", "bundled-plugins-dir").value!);
        const unit = unitFiles(cfg).find((u) => path.basename(u.path) === SERVICE_UNITS.grafana)!.content;
        // The premise: a download cannot work. With remoteWrite Grafana reaches grafana.com for the AMP data source
        // plugin (docs/remote-write.md); preinstall_auto_update = false still keeps the shipped version then.
        if (!cfg.remoteWrite) assert.equal(serviceSetting(unit, "IPAddressDeny"), "any");
        const ini = parseIni(rendered.find((r) => r.path === SERVICES.grafana.config)!.content);
        assert.equal(ini.plugins?.preinstall_auto_update, "false", `Grafana would fetch the latest ${shipped.value} plugin at every start`);
        // The shipped copy is what the preinstall falls back to: turning preinstall off could drop it.
        assert.notEqual(ini.plugins?.preinstall_disabled, "true");
        assert.ok(!ini.paths?.bundled_plugins || ini.paths.bundled_plugins === bundledDir, `paths.bundled_plugins must stay ${bundledDir}`);
        // The whole archive (with its data/plugins-bundled) is installed as Grafana's home.
        const install = COMPONENTS.grafana.install("amd64");
        assert.deepEqual("tree" in install && install.tree, { from: "*", to: GRAFANA_HOME });
        // And Grafana provisions a data source of that plugin.
        const types = (yamlOf(GRAFANA_DATASOURCES_FILE).datasources as Doc[]).map((d) => d.type);
        assert.ok(types.includes(shipped.value!));
      });

      it("finds a trace's logs by the trace id Loki keeps as structured metadata, not by a line filter", () => {
        const label = fact("loki", "otlp-trace-id-structured-metadata").value!;
        const tempo = (yamlOf(GRAFANA_DATASOURCES_FILE).datasources as Doc[]).find((d) => d.type === "tempo")!;
        const t2l = tempo.jsonData.tracesToLogsV2 as Doc;
        assert.equal(t2l.datasourceUid, DATASOURCE_UIDS.loki);
        assert.equal(t2l.customQuery, true, "without customQuery Grafana filters the log line on the trace id, and Loki's OTLP lines do not contain it");
        // Provisioning turns `$$` into `$` (its own env interpolation); then Grafana fills its link variables.
        const query = String(t2l.query).replace(/\$\$/g, "$");
        assert.match(query, new RegExp(`\\| ${label}="\\$\\{__span\\.traceId\\}"`), query);
        assert.doesNotMatch(query, /\|[=~]/, "a line filter cannot see structured metadata");
        assert.match(query, /^\{\$\{__tags\}\}/, "the stream selector comes from the mapped span tags (service_name)");
      });
    });
  }

  describe("on this kernel (real proc mounts in a private mount namespace)", function () {
    this.timeout(30_000);
    const mountWith = (opts: string[], probe: string): boolean => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "proc-"));
      try {
        const o = opts.length ? `-o ${opts.join(",")}` : "";
        const res = run("unshare", ["--mount", "--fork", "sh", "-c", `mount -t proc ${o} proc "$1" && test -e "$1/$2"`, "sh", dir, probe]);
        return res.status === 0;
      } finally {
        fs.rmdirSync(dir);
      }
    };

    before(function () {
      if (process.getuid?.() !== 0 || run("unshare", ["--mount", "--fork", "true"]).status !== 0) {
        console.warn("\n  !!! SKIPPED: needs root and unshare(1) to mount proc in a private mount namespace\n");
        this.skip();
      }
    });

    it("subset=pid hides /proc/meminfo (the premise), and the rendered collector unit's proc mount shows it", () => {
      const needed = path.posix.relative("/proc", fact("otelcol", "memory-limiter-total-memory").value!);
      assert.equal(mountWith(["hidepid=invisible", "subset=pid"], needed), false, "subset=pid should hide it");
      for (const { name, cfg } of evidenceStacks()) {
        const unit = unitFiles(cfg).find((u) => path.basename(u.path) === SERVICE_UNITS.otelcol)!.content;
        assert.ok(mountWith(procMountOptions(unit), needed), `${name}: ${SERVICE_UNITS.otelcol}'s /proc (${procMountOptions(unit).join(",")}) hides ${needed}`);
      }
    });
  });
});
