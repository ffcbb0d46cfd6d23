/**
 * The service config files of a host (hostfiles/services), rendered for both stacks with the placeholder context and
 * read back as the services would read them: owners and modes, listeners, wiring between services, where each
 * credential comes from. The same files go through the real validators and daemons in
 * tests/service-configs-validators.spec.ts.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { parseDuration, goDuration } from "../config/duration";
import { allPorts, DATA_MOUNT, DATASOURCE_UIDS, GRAFANA_DASHBOARD_PROVIDERS_FILE, GRAFANA_DASHBOARDS_DIR, GRAFANA_DATASOURCES_FILE, LOKI_RULES_FILE, OTLP_PORTS, PROMETHEUS_RULES_DIR, SERVICE_UNITS, SERVICES } from "../layout/host-layout";
import { secretFiles } from "../hostfiles/secrets";
import { MEMBERLIST_PORTS } from "../hostfiles/services/common";
import {
  alertmanagerFlags,
  nodeExporterFlags,
  prometheusFlags,
  PROMETHEUS_VOLUME_SHARE_PERCENT,
  serviceFlags,
} from "../hostfiles/services/flags";
import { META_ALERTS_FILE, metaAlerts } from "../rules/meta-alerts";
import { OTLP_CLIENT_CA_PATH, OTLP_SERVER_CERT_PATH, otelcolQueueBytes } from "../hostfiles/services/otelcol";
import { STACK_JOBS } from "../hostfiles/services/prometheus";
import { stackConfig, secretValues, SENTINEL } from "./support/stacks";
import { runbookUrl, type RunbookRef } from "../rules/runbook-links";
import { APPS, devWithWebhook, Doc, file, render, Rendered, REPO, STACKS, webhookUrlFileToUrlForAmtool025, withoutWebhookUrls, yamlOf } from "./support/service-configs";

function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith(";") || line.startsWith("#")) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1];
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(eq > 0, `not an INI line: ${line}`);
    (out[section] ??= {})[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** Every string value anywhere in a document. */
function strings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === "object") return Object.values(v).flatMap(strings);
  return [];
}

/** Every value of `key` anywhere in a document. */
function valuesOfKey(v: unknown, key: string): unknown[] {
  if (Array.isArray(v)) return v.flatMap((x) => valuesOfKey(x, key));
  if (v && typeof v === "object") {
    return Object.entries(v).flatMap(([k, x]) => [...(k === key ? [x] : []), ...valuesOfKey(x, key)]);
  }
  return [];
}

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

interface Listener {
  what: string;
  host: string;
  port: number;
}

/** Every address a service listens on, read back from the rendered files and the command-line flags. */
function listeners(r: Rendered): Listener[] {
  const flag = (flags: string[], name: string) => {
    const f = flags.find((x) => x.startsWith(`${name}=`));
    assert.ok(f, `missing ${name} in ${flags.join(" ")}`);
    return f.slice(name.length + 1);
  };
  const out: Listener[] = [];
  const add = (what: string, address: string) => out.push({ what, ...hostPort(address) });
  add("prometheus web", flag(prometheusFlags(r.cfg), "--web.listen-address"));
  add("alertmanager web", flag(alertmanagerFlags(), "--web.listen-address"));
  add("node_exporter web", flag(nodeExporterFlags(), "--web.listen-address"));

  const loki = yamlOf(r, SERVICES.loki.config);
  add("loki http", `${loki.server.http_listen_address}:${loki.server.http_listen_port}`);
  add("loki grpc", `${loki.server.grpc_listen_address}:${loki.server.grpc_listen_port}`);
  for (const a of loki.memberlist.bind_addr) add("loki memberlist", `${a}:${loki.memberlist.bind_port}`);

  const tempo = yamlOf(r, SERVICES.tempo.config);
  add("tempo http", `${tempo.server.http_listen_address}:${tempo.server.http_listen_port}`);
  add("tempo grpc", `${tempo.server.grpc_listen_address}:${tempo.server.grpc_listen_port}`);
  add("tempo otlp grpc", tempo.distributor.receivers.otlp.protocols.grpc.endpoint);
  add("tempo otlp http", tempo.distributor.receivers.otlp.protocols.http.endpoint);
  for (const a of tempo.memberlist.bind_addr) add("tempo memberlist", `${a}:${tempo.memberlist.bind_port}`);

  const otel = yamlOf(r, SERVICES.otelcol.config);
  add("otelcol otlp grpc", otel.receivers.otlp.protocols.grpc.endpoint);
  add("otelcol otlp http", otel.receivers.otlp.protocols.http.endpoint);
  add("otelcol health_check", otel.extensions.health_check.endpoint);
  add("otelcol prometheus exporter", otel.exporters.prometheus.endpoint);
  const telemetry = otel.service.telemetry.metrics.readers[0].pull.exporter.prometheus;
  add("otelcol own metrics", `${telemetry.host}:${telemetry.port}`);

  const grafana = parseIni(file(r, SERVICES.grafana.config).content);
  add("grafana http", `${grafana.server.http_addr}:${grafana.server.http_port}`);
  return out;
}

describe("service config files (hostfiles/services)", () => {
  for (const stack of STACKS) {
    describe(`stack ${stack}`, () => {
      let r: Rendered;
      before(() => (r = render(stack)));

      it("renders every service's files, each with owner, mode and the right reaction to a change", () => {
        const expected: Record<string, { unit: string; action: "reload" | "restart" }> = {
          [SERVICES.prometheus.config]: { unit: SERVICE_UNITS.prometheus, action: "reload" },
          [META_ALERTS_FILE]: { unit: SERVICE_UNITS.prometheus, action: "reload" },
          [SERVICES.alertmanager.config]: { unit: SERVICE_UNITS.alertmanager, action: "reload" },
          [SERVICES.loki.config]: { unit: SERVICE_UNITS.loki, action: "restart" },
          [SERVICES.tempo.config]: { unit: SERVICE_UNITS.tempo, action: "restart" },
          [SERVICES.otelcol.config]: { unit: SERVICE_UNITS.otelcol, action: "restart" },
          [OTLP_SERVER_CERT_PATH]: { unit: SERVICE_UNITS.otelcol, action: "restart" },
          [OTLP_CLIENT_CA_PATH]: { unit: SERVICE_UNITS.otelcol, action: "restart" },
          [SERVICES.grafana.config]: { unit: SERVICE_UNITS.grafana, action: "restart" },
          [GRAFANA_DATASOURCES_FILE]: { unit: SERVICE_UNITS.grafana, action: "restart" },
          [GRAFANA_DASHBOARD_PROVIDERS_FILE]: { unit: SERVICE_UNITS.grafana, action: "restart" },
        };
        // Loki's ruler re-reads its rule storage every poll_interval: a changed rule file needs no restart.
        const noAction = [LOKI_RULES_FILE];
        assert.deepEqual(r.files.map((f) => f.path).sort(), [...Object.keys(expected), ...noAction].sort());
        for (const f of r.files) {
          assert.deepEqual(f.onChange, expected[f.path], f.path);
          assert.match(f.mode, /^0[0-7]{3}$/, f.path);
          assert.ok(!/[2367]$/.test(f.mode), `${f.path} is world-writable (${f.mode})`);
          assert.match(f.owner, /^root:[a-z_]+$/, `${f.path}: config files belong to root, readable by the service group`);
          assert.ok(f.content.endsWith("\n"), `${f.path} lacks a final newline`);
          assert.ok(!/undefined|\[object Object\]|NaN/.test(f.content), `${f.path} contains an unrendered value`);
        }
        // Service configs are readable by the service group only; the public certificates by anyone.
        for (const f of r.files.filter((x) => x.path !== OTLP_SERVER_CERT_PATH && x.path !== OTLP_CLIENT_CA_PATH)) assert.equal(f.mode, "0640", f.path);
        assert.equal(file(r, SERVICES.loki.config).owner, `root:${SERVICES.loki.user}`);
      });

      it("never contains a secret value", () => {
        const secrets = secretValues(stack);
        assert.ok(secrets.length > 0);
        for (const f of r.files) {
          for (const s of secrets) assert.ok(!f.content.includes(s), `${f.path} leaks a secret`);
          assert.ok(!f.content.includes(SENTINEL), `${f.path} leaks a sentinel`);
        }
      });

      describe("Prometheus", () => {
        it("scrapes every stack component at the address it listens on, with the alerting timing", () => {
          const doc = yamlOf(r, SERVICES.prometheus.config);
          assert.equal(doc.global.scrape_interval, "15s");
          assert.equal(doc.global.evaluation_interval, "15s");
          assert.deepEqual(doc.rule_files, [`${PROMETHEUS_RULES_DIR}/*.yml`]);
          const am = doc.alerting.alertmanagers[0].static_configs[0].targets;
          assert.deepEqual(am, [`127.0.0.1:${SERVICES.alertmanager.ports.http}`]);
          const jobs = Object.fromEntries((doc.scrape_configs as Doc[]).map((j) => [j.job_name, j]));
          const target = (job: string) => jobs[job]?.static_configs[0].targets[0];
          const l = Object.fromEntries(listeners(r).map((x) => [x.what, `${x.host}:${x.port}`]));
          assert.equal(target(STACK_JOBS.prometheus), l["prometheus web"]);
          assert.equal(target(STACK_JOBS.alertmanager), l["alertmanager web"]);
          assert.equal(target(STACK_JOBS.grafana), l["grafana http"]);
          assert.equal(target(STACK_JOBS.loki), l["loki http"]);
          assert.equal(target(STACK_JOBS.tempo), l["tempo http"]);
          assert.equal(target(STACK_JOBS.otelcol), "127.0.0.1:8888");
          assert.equal(target(STACK_JOBS.otelcol), l["otelcol own metrics"]);
          assert.equal(target(STACK_JOBS.otelcolApps), "127.0.0.1:8889");
          assert.equal(target(STACK_JOBS.otelcolApps), l["otelcol prometheus exporter"]);
          assert.equal(target(STACK_JOBS.node), l["node_exporter web"]);
          // Application series from the collector keep their own job and instance labels.
          assert.equal(jobs[STACK_JOBS.otelcolApps].honor_labels, true);
          for (const j of Object.values(STACK_JOBS)) {
            if (j !== STACK_JOBS.otelcolApps) assert.ok(!jobs[j].honor_labels, `${j} must not honor scraped labels`);
          }
        });

        it("keeps metrics by time (flag) and by at most 80 % of the filesystem it writes to (computed at start)", () => {
          const flags = prometheusFlags(r.cfg);
          assert.ok(flags.includes(`--storage.tsdb.retention.time=${r.cfg.retention.metrics.text}`));
          assert.ok(!flags.some((f) => f.startsWith("--storage.tsdb.retention.size")), "the size comes from the filesystem, not from config");
          assert.ok(PROMETHEUS_VOLUME_SHARE_PERCENT > 0 && PROMETHEUS_VOLUME_SHARE_PERCENT <= 80);
          assert.ok(flags.includes(`--storage.tsdb.path=${SERVICES.prometheus.dataDir}`));
          assert.ok(flags.includes(`--config.file=${SERVICES.prometheus.config}`));
          assert.ok(flags.includes("--web.enable-lifecycle"), "reload needs the lifecycle API");
          assert.ok(SERVICES.prometheus.dataDir.startsWith(`${DATA_MOUNT}/`));
        });
      });

      describe("meta-alerts", () => {
        it("label each alert with a routed severity and annotate summary, description ($value) and an existing runbook", () => {
          const doc = yamlOf(r, META_ALERTS_FILE);
          const rules = (doc.groups as Doc[]).flatMap((g) => g.rules as Doc[]);
          assert.equal(rules.length, metaAlerts().length);
          const names = rules.map((x) => x.alert as string);
          assert.equal(new Set(names).size, names.length, "alert names are unique");
          for (const rule of rules) {
            assert.ok(["page", "ticket", "watchdog"].includes(rule.labels?.severity), `${rule.alert} severity ${rule.labels?.severity}`);
            assert.ok((rule.annotations.summary as string)?.length > 10, `${rule.alert} summary`);
            assert.match(rule.annotations.description as string, /\{\{ \$value/, `${rule.alert} description shows the measured value`);
            const url = rule.annotations.runbook_url as string;
            const file = (metaAlerts().find((a) => a.alert === rule.alert)!.runbook as RunbookRef).file;
            assert.equal(url, runbookUrl(r.cfg, { file }), `${rule.alert} runbook_url ${url}`);
            const runbook = path.join(REPO, "docs/runbooks", file);
            assert.ok(fs.existsSync(runbook), `${rule.alert}: runbook ${runbook} does not exist`);
            const text = fs.readFileSync(runbook, "utf8");
            assert.ok(text.includes(rule.alert), `${runbook} does not name ${rule.alert}`);
            assert.ok(text.includes("aws ssm start-session --target"), `${runbook} does not say how to connect`);
            assert.match(text, /journalctl -u |systemctl status |curl -s/, `${runbook} has no first commands`);
            assert.match(text, /## Escalat/i, `${runbook} has no escalation section`);
          }
          const watchdog = rules.find((x) => x.alert === "Watchdog");
          assert.equal(watchdog?.labels.severity, "watchdog");
          // The volume alerts watch the data volume's mount point from the layout.
          for (const name of ["DataVolumeFillingUp", "DataVolumeAlmostFull"]) {
            assert.ok((rules.find((x) => x.alert === name)?.expr as string).includes(`mountpoint="${DATA_MOUNT}"`), name);
          }
        });
      });

      describe("Alertmanager", () => {
        it("reads every credential from its secret file and groups, waits and inhibits sensibly", () => {
          const doc = yamlOf(r, SERVICES.alertmanager.config);
          const secretPaths = new Set(secretFiles(r.cfg).map((s) => s.path));
          const fileRefs = ["api_url_file", "routing_key_file", "auth_password_file", "url_file"].flatMap((k) => valuesOfKey(doc, k));
          const needing = r.cfg.alerting.receivers.filter((x) => x.type !== "email" || x.authUsername);
          assert.equal(fileRefs.length, needing.length, "one secret file per receiver that needs a credential");
          for (const ref of fileRefs) assert.ok(secretPaths.has(ref as string), `${ref} is not in the secrets manifest`);
          for (const inline of ["api_url", "routing_key", "service_key", "auth_password", "url"]) {
            assert.deepEqual(valuesOfKey(doc, inline), [], `inline ${inline}`);
          }
          assert.deepEqual(doc.route.group_by, ["alertname", "slo", "service"]);
          assert.equal(doc.route.group_wait, "30s");
          assert.equal(doc.route.group_interval, "5m");
          const pageRoutes = (doc.route.routes as Doc[]).filter((x) => x.matchers.includes('severity="page"'));
          for (const route of pageRoutes) assert.equal(route.repeat_interval, "4h");
          const sloRule = (doc.inhibit_rules as Doc[]).find((x) => x.equal.includes("slo"));
          assert.ok(sloRule, "a page inhibits the ticket of the same slo");
          assert.ok(sloRule.source_matchers.includes('severity="page"') && sloRule.target_matchers.includes('severity="ticket"'));
          // Without this, an alert lacking `slo` (equal: both empty) would inhibit every ticket.
          assert.ok(sloRule.source_matchers.includes('slo=~".+"'));
        });
      });

      describe("Loki", () => {
        it("stores in the stack's S3 bucket and region with the instance role, v13/tsdb, 24h index", () => {
          const doc = yamlOf(r, SERVICES.loki.config);
          assert.equal(doc.common.storage.s3.bucketnames, r.ctx.lokiBucket);
          assert.equal(doc.common.storage.s3.region, r.cfg.region);
          assert.deepEqual(
            Object.keys(doc.common.storage.s3).filter((k) => /key|secret|token/i.test(k)),
            [],
            "no static credentials",
          );
          const [schema] = doc.schema_config.configs as Doc[];
          assert.equal(schema.store, "tsdb");
          assert.equal(schema.schema, "v13");
          assert.equal(schema.object_store, "s3");
          assert.equal(schema.index.period, "24h");
          assert.match(String(schema.from), /^\d{4}-\d{2}-\d{2}$/);
        });

        it("applies the stack's log retention through the compactor, keeps its state on the data volume, reports nothing", () => {
          const doc = yamlOf(r, SERVICES.loki.config);
          assert.equal(doc.compactor.retention_enabled, true);
          assert.equal(doc.compactor.delete_request_store, "s3");
          assert.equal(doc.limits_config.retention_period, goDuration(r.cfg.retention.logs));
          assert.equal(doc.analytics.reporting_enabled, false);
          assert.equal(doc.common.path_prefix, SERVICES.loki.dataDir);
          const paths = [doc.ingester.wal.dir, doc.compactor.working_directory, ...Object.values(doc.storage_config.tsdb_shipper)];
          for (const p of paths) assert.ok(String(p).startsWith(`${SERVICES.loki.dataDir}/`), `${p} is not on the data volume`);
          assert.ok(SERVICES.loki.dataDir.startsWith(`${DATA_MOUNT}/`));
          // The WAL throttles writes before the volume is full (DataVolumeAlmostFull pages at 95 % used).
          const threshold = doc.ingester.wal.disk_full_threshold;
          assert.ok(threshold > 0.5 && threshold < 0.95, `disk_full_threshold ${threshold}`);
        });
      });

      describe("Tempo", () => {
        it("uses the 3.x layout: S3 bucket and region from the stack, WAL on the data volume, retention from the stack", () => {
          const doc = yamlOf(r, SERVICES.tempo.config);
          for (const removed of ["ingester", "compactor", "ingester_client", "metrics_generator_client"]) {
            assert.ok(!(removed in doc), `${removed} was removed in Tempo 3.0`);
          }
          assert.equal(doc.storage.trace.backend, "s3");
          assert.equal(doc.storage.trace.s3.bucket, r.ctx.tempoBucket);
          assert.equal(doc.storage.trace.s3.region, r.cfg.region);
          assert.ok(!Object.keys(doc.storage.trace.s3).some((k) => /key|token/.test(k)), "no static credentials");
          assert.equal(doc.backend_worker.compaction.block_retention, goDuration(r.cfg.retention.traces));
          assert.equal(doc.backend_scheduler.provider.compaction.compaction.block_retention, goDuration(r.cfg.retention.traces));
          assert.equal(doc.usage_report.reporting_enabled, false);
          // Every local path (WAL, live-store, generator WAL, scheduler work files) is on the data volume.
          const localPaths = [...valuesOfKey(doc, "path"), ...valuesOfKey(doc, "local_work_path"), ...valuesOfKey(doc, "shutdown_marker_dir")];
          assert.ok(localPaths.length >= 5, `found ${localPaths.length} paths`);
          for (const p of localPaths) assert.ok(String(p).startsWith(`${SERVICES.tempo.dataDir}/`), `${p} is not on the data volume`);
        });

        it("points its in-process gRPC clients at its own gRPC port, not a default that Loki holds", () => {
          const doc = yamlOf(r, SERVICES.tempo.config);
          const own = `127.0.0.1:${doc.server.grpc_listen_port}`;
          assert.equal(doc.backend_worker.backend_scheduler_addr, own);
          assert.equal(doc.querier.frontend_worker.frontend_address, own);
          assert.notEqual(doc.server.grpc_listen_port, SERVICES.loki.ports.grpc);
          // Rings would otherwise look for eth0/en0, which EC2 (ens5) lacks.
          for (const ring of valuesOfKey(doc, "ring")) assert.equal((ring as Doc).instance_addr, "127.0.0.1");
        });

        it("remote-writes generated metrics to the local Prometheus", () => {
          const doc = yamlOf(r, SERVICES.tempo.config);
          assert.deepEqual(doc.metrics_generator.storage.remote_write.map((x: Doc) => x.url), [
            `http://127.0.0.1:${SERVICES.prometheus.ports.http}/api/v1/write`,
          ]);
          assert.ok(prometheusFlags(r.cfg).includes("--web.enable-remote-write-receiver"), "Prometheus must accept the writes");
          assert.deepEqual(doc.overrides.defaults.metrics_generator.processors.sort(), ["service-graphs", "span-metrics"]);
        });
      });

      describe("OpenTelemetry Collector", () => {
        it("drops a silent application's metrics after 2-3 minutes (service-down detection; SDKs export every 60 s)", () => {
          const doc = yamlOf(r, SERVICES.otelcol.config);
          const expiration = parseDuration(doc.exporters.prometheus.metric_expiration)!.seconds;
          assert.ok(expiration >= 120 && expiration <= 180, `metric_expiration ${doc.exporters.prometheus.metric_expiration}`);
        });

        it("defines every receiver, processor, exporter and extension its pipelines use", () => {
          const doc = yamlOf(r, SERVICES.otelcol.config);
          const pipelines = doc.service.pipelines as Record<string, Doc>;
          assert.deepEqual(Object.keys(pipelines).sort(), ["logs", "logs/host", "metrics", "traces"]);
          for (const [name, p] of Object.entries(pipelines)) {
            for (const kind of ["receivers", "processors", "exporters"]) {
              assert.ok((p[kind] as string[]).length > 0, `${name} has no ${kind}`);
              for (const id of p[kind] as string[]) assert.ok(id in doc[kind], `${name} uses undefined ${kind} ${id}`);
            }
            assert.equal(p.processors[0], "memory_limiter", `${name}: memory_limiter must come first`);
            assert.ok(p.processors.includes("batch"));
          }
          for (const ext of doc.service.extensions as string[]) assert.ok(ext in doc.extensions, `undefined extension ${ext}`);
          assert.deepEqual(pipelines.traces.exporters, ["otlp_grpc/tempo"]);
          assert.deepEqual(pipelines.logs.exporters, ["otlp_http/loki"]);
          assert.deepEqual(pipelines["logs/host"].exporters, ["otlp_http/loki"]);
          assert.deepEqual(pipelines.metrics.exporters, ["prometheus"]);
          // Renamed in v0.144: the old names only warn today and will go.
          for (const id of Object.keys(doc.exporters)) assert.ok(!/^(otlp|otlphttp)(\/|$)/.test(id), `deprecated exporter name ${id}`);
        });

        it("sends traces to Tempo's and logs to Loki's listeners, through persistent queues with retries", () => {
          const doc = yamlOf(r, SERVICES.otelcol.config);
          const l = Object.fromEntries(listeners(r).map((x) => [x.what, `${x.host}:${x.port}`]));
          assert.equal(doc.exporters["otlp_grpc/tempo"].endpoint, l["tempo otlp grpc"]);
          assert.equal(doc.exporters["otlp_http/loki"].endpoint, `http://${l["loki http"]}/otlp`);
          for (const id of ["otlp_grpc/tempo", "otlp_http/loki"]) {
            const e = doc.exporters[id];
            assert.equal(e.sending_queue.enabled, true, id);
            assert.ok(e.sending_queue.storage in doc.extensions, `${id} queue storage ${e.sending_queue.storage} undefined`);
            assert.ok(String(e.sending_queue.storage).startsWith("file_storage"), id);
            assert.equal(e.retry_on_failure.enabled, true, id);
            // Bounded in bytes, together well within the volume's share left beside Prometheus.
            assert.equal(e.sending_queue.sizer, "bytes", id);
            assert.equal(e.sending_queue.queue_size, otelcolQueueBytes(r.cfg), id);
          }
          assert.ok(2 * otelcolQueueBytes(r.cfg) <= 0.15 * r.cfg.dataVolume.sizeGiB * 2 ** 30);
          assert.ok(otelcolQueueBytes(r.cfg) > 100 * 2 ** 20, "room for a backlog of minutes at least");
          const storage = doc.extensions[doc.exporters["otlp_grpc/tempo"].sending_queue.storage];
          assert.ok(String(storage.directory).startsWith(`${SERVICES.otelcol.dataDir}/`), storage.directory);
          assert.ok(SERVICES.otelcol.dataDir.startsWith(`${DATA_MOUNT}/`));
        });

        it("serves OTLP with TLS: the certificate it ships and the key from the secrets manifest", () => {
          const doc = yamlOf(r, SERVICES.otelcol.config);
          const key = secretFiles(r.cfg).find((s) => s.owner === SERVICES.otelcol.user);
          assert.ok(key);
          for (const proto of ["grpc", "http"]) {
            const tls = doc.receivers.otlp.protocols[proto].tls;
            assert.equal(tls.key_file, key.path, proto);
            assert.equal(tls.cert_file, OTLP_SERVER_CERT_PATH, proto);
          }
          assert.ok(OTLP_SERVER_CERT_PATH.startsWith("/etc/otelcol-contrib/tls/"));
          assert.equal(file(r, OTLP_SERVER_CERT_PATH).content.trim(), r.ctx.otlpServerCertPem.trim());
        });

        it("requires a client certificate from one of the applications' CAs on both OTLP protocols (mutual TLS)", () => {
          const doc = yamlOf(r, SERVICES.otelcol.config);
          for (const proto of ["grpc", "http"]) {
            // configtls.ServerConfig.ClientCAFile, `mapstructure:"client_ca_file"` (opentelemetry-collector v0.149.0,
            // config/configtls/configtls.go): sets ClientAuth to RequireAndVerifyClientCert.
            assert.equal(doc.receivers.otlp.protocols[proto].tls.client_ca_file, OTLP_CLIENT_CA_PATH, proto);
          }
          assert.equal(file(r, OTLP_CLIENT_CA_PATH).content.trim(), r.ctx.otlpClientCaPem.trim());
          assert.equal(file(r, OTLP_CLIENT_CA_PATH).mode, "0644", "CA certificates are public");
        });

        it("keeps senders from writing Prometheus' own series or a stack job's series (honor_labels stays safe)", () => {
          const doc = yamlOf(r, SERVICES.otelcol.config);
          const metrics = doc.service.pipelines.metrics.processors as string[];
          const filterId = metrics.find((id) => id.startsWith("filter/"))!;
          const attributesId = metrics.find((id) => id.startsWith("attributes/"))!;
          assert.ok(filterId && attributesId, metrics.join(", "));
          assert.ok(metrics.indexOf(filterId) < metrics.indexOf("batch") && metrics.indexOf(attributesId) < metrics.indexOf("batch"));
          // filterprocessor: `error_mode`, `metrics.metric` (OTTL conditions in the metric context, where `name` and
          // `resource.attributes[...]` are paths); attributesprocessor: `actions[].key`, `actions[].action: delete`.
          const filter = doc.processors[filterId];
          assert.equal(filter.error_mode, "ignore");
          const conditions = filter.metrics.metric as string[];
          const regexOf = (path: string) => {
            const c = conditions.find((x) => x.startsWith(`IsMatch(${path}, `));
            assert.ok(c, `no condition on ${path}`);
            return new RegExp(JSON.parse(c.slice(`IsMatch(${path}, `.length, -1)));
          };
          // OTTL's IsMatch uses Go's RE2; these patterns (anchors, alternation, classes) mean the same in JS.
          const names = regexOf("name");
          for (const n of ["up", "target_info", "target.info", "scrape_duration_seconds", "scrape.series_added", "scrape_samples_scraped"]) {
            assert.ok(names.test(n), `${n} must be dropped`);
          }
          for (const n of ["uptime", "http.server.request.duration", "http_server_request_duration_seconds", "db.client.connection.count", "startup"]) {
            assert.ok(!names.test(n), `${n} must pass`);
          }
          const jobs = regexOf('resource.attributes["service.name"]');
          for (const j of Object.values(STACK_JOBS)) assert.ok(jobs.test(j), `service.name ${j} must be dropped`);
          for (const svc of new Set(r.cfg.slos.map((x) => x.service))) assert.ok(!jobs.test(svc), `${svc} (an SLO service) must pass`);
          assert.ok(!jobs.test("prometheus-exporter") && !jobs.test("my-node"), "whole names only");
          const actions = doc.processors[attributesId].actions as { key: string; action: string }[];
          assert.deepEqual(actions.map((a) => `${a.key}:${a.action}`).sort(), ["instance:delete", "job:delete"]);
          // The service-down signal is unchanged: the exporter still derives target_info from each resource, and
          // Prometheus keeps the applications' job/instance.
          const prom = yamlOf(r, SERVICES.prometheus.config);
          assert.equal(prom.scrape_configs.find((j: Doc) => j.job_name === STACK_JOBS.otelcolApps).honor_labels, true);
        });
      });

      describe("Grafana", () => {
        it("grafana.ini: loopback only, state on the data volume, admin password from its secret file, no analytics, no anonymous access", () => {
          const ini = parseIni(file(r, SERVICES.grafana.config).content);
          assert.equal(ini.server.http_addr, "127.0.0.1");
          assert.equal(Number(ini.server.http_port), SERVICES.grafana.ports.http);
          for (const k of ["data", "logs", "plugins"]) {
            assert.ok(ini.paths[k].startsWith(`${SERVICES.grafana.dataDir}`), `paths.${k} = ${ini.paths[k]}`);
          }
          const secret = secretFiles(r.cfg).find((s) => s.owner === SERVICES.grafana.user);
          assert.ok(secret);
          assert.equal(ini.security.admin_password, `$__file{${secret.path}}`);
          assert.equal(ini.analytics.reporting_enabled, "false");
          assert.equal(ini.analytics.check_for_updates, "false");
          assert.equal(ini["auth.anonymous"].enabled, "false");
          assert.equal(ini.users.allow_sign_up, "false");
        });

        it("provisions the four data sources with stable uids; every cross-link points at one of them", () => {
          const doc = yamlOf(r, GRAFANA_DATASOURCES_FILE);
          const ds = doc.datasources as Doc[];
          const uids = ds.map((d) => d.uid as string);
          assert.deepEqual(uids.sort(), Object.values(DATASOURCE_UIDS).sort());
          const links = [...valuesOfKey(doc, "datasourceUid")];
          // metrics → traces, logs → traces, traces → logs, service map (lokiSearch, a fifth, is dead since Grafana 11).
          assert.ok(links.length >= 4, `only ${links.length} cross-links`);
          for (const uid of links) assert.ok(uids.includes(uid as string), `link to unknown data source ${uid}`);
          const byUid = Object.fromEntries(ds.map((d) => [d.uid, d]));
          assert.equal(byUid.prometheus.jsonData.exemplarTraceIdDestinations[0].datasourceUid, "tempo");
          assert.equal(byUid.loki.jsonData.derivedFields[0].datasourceUid, "tempo");
          assert.equal(byUid.tempo.jsonData.tracesToLogsV2.datasourceUid, "loki");
          assert.equal(byUid.tempo.jsonData.serviceMap.datasourceUid, "prometheus");
          assert.equal(byUid.tempo.jsonData.nodeGraph.enabled, true);
          assert.equal(byUid.alertmanager.type, "alertmanager");
          // Provisioning expands $VAR and ${VAR}: a literal `$` must be written `$$`.
          for (const s of strings(doc)) {
            assert.ok(!s.replace(/\$\$/g, "").includes("$"), `unescaped $ in "${s}"`);
          }
          assert.equal(byUid.loki.jsonData.derivedFields[0].url, "$${__value.raw}");
          const l = listeners(r);
          for (const d of ds) {
            const { host, port } = hostPort(String(d.url).replace(/^http:\/\//, ""));
            assert.ok(l.some((x) => x.host === host && x.port === port), `${d.name} url ${d.url} matches no listener`);
          }
        });

        it("provisions the dashboards directory", () => {
          const doc = yamlOf(r, GRAFANA_DASHBOARD_PROVIDERS_FILE);
          assert.equal(doc.providers[0].type, "file");
          assert.equal(doc.providers[0].options.path, GRAFANA_DASHBOARDS_DIR);
          assert.equal(GRAFANA_DASHBOARDS_DIR, "/etc/grafana/dashboards");
        });
      });

      it("gives no two listeners the same port, binds all but the OTLP receivers to loopback, and matches the layout", () => {
        const l = listeners(r);
        const ports = l.map((x) => x.port);
        const dupes = ports.filter((p, i) => ports.indexOf(p) !== i);
        assert.deepEqual(dupes, [], `shared ports: ${l.filter((x) => dupes.includes(x.port)).map((x) => `${x.what}:${x.port}`).join(", ")}`);
        for (const x of l) {
          if ((OTLP_PORTS as readonly number[]).includes(x.port)) {
            assert.equal(x.host, "0.0.0.0", `${x.what} must be reachable from the VPC`);
          } else {
            assert.equal(x.host, "127.0.0.1", `${x.what} listens on ${x.host}`);
          }
        }
        const layoutPorts = allPorts().map((p) => p.port);
        const memberlist = Object.values(MEMBERLIST_PORTS) as number[];
        for (const p of layoutPorts) assert.ok(ports.includes(p), `layout port ${p} has no listener`);
        for (const x of l) assert.ok(layoutPorts.includes(x.port) || memberlist.includes(x.port), `${x.what}:${x.port} is not in the layout`);
        assert.ok(!alertmanagerFlags().some((f) => /^--cluster\.listen-address=.+/.test(f)) && alertmanagerFlags().includes("--cluster.listen-address="));
      });
    });
  }

  describe("flags", () => {
    it("gives every service its config file and, where it has one, a loopback listen address", () => {
      const flags = serviceFlags(stackConfig("dev"));
      assert.ok(flags.loki.includes(`-config.file=${SERVICES.loki.config}`));
      assert.ok(flags.tempo.includes(`-config.file=${SERVICES.tempo.config}`));
      assert.ok(flags.otelcol.includes(`--config=${SERVICES.otelcol.config}`));
      assert.ok(flags.alertmanager.includes(`--config.file=${SERVICES.alertmanager.config}`));
      assert.ok(flags.alertmanager.includes(`--storage.path=${SERVICES.alertmanager.dataDir}`));
      assert.ok(flags.grafana.includes(`--config=${SERVICES.grafana.config}`));
      for (const f of Object.values(flags).flat()) assert.ok(!f.includes("0.0.0.0"), f);
    });

    it("derive retention from the stack: prd keeps longer and more than dev", () => {
      const dev = prometheusFlags(stackConfig("dev"));
      const prd = prometheusFlags(stackConfig("prd"));
      assert.ok(dev.includes("--storage.tsdb.retention.time=7d"));
      assert.ok(prd.includes("--storage.tsdb.retention.time=30d"));

    });
  });

  describe("appScrapeTargets", () => {
    it("adds one scrape job per application, named after the service", () => {
      const r = render("dev", stackConfig("dev", { appScrapeTargets: APPS }));
      const doc = yamlOf(r, SERVICES.prometheus.config);
      const jobs = Object.fromEntries((doc.scrape_configs as Doc[]).map((j) => [j.job_name, j]));
      assert.deepEqual(jobs["appointments-api"].static_configs[0].targets, APPS[0].targets);
      assert.equal(jobs["appointments-api"].metrics_path, "/actuator/prometheus");
      assert.equal(jobs.billing.scheme, "https");
      assert.ok(!("honor_labels" in jobs.billing));
    });

    it("is optional: without it only the stack's jobs exist", () => {
      const doc = yamlOf(render("prd"), SERVICES.prometheus.config);
      assert.deepEqual((doc.scrape_configs as Doc[]).map((j) => j.job_name).sort(), Object.values(STACK_JOBS).sort());
    });
  });

  describe("Alertmanager with a webhook receiver", () => {
    it("reads the webhook URL from url_file, and only that differs from what amtool 0.25 checks", () => {
      const r = render("dev", devWithWebhook());
      const doc = yamlOf(r, SERVICES.alertmanager.config);
      const webhook = (doc.receivers as Doc[]).find((x) => x.name === "ops-webhook");
      assert.ok(webhook);
      const secret = secretFiles(r.cfg).find((s) => s.id === "receiver-ops-webhook");
      assert.ok(secret);
      assert.deepEqual(webhook.webhook_configs[0].url_file, secret.path);
      assert.ok(!("url" in webhook.webhook_configs[0]));
      for (const f of r.files) assert.ok(!f.content.includes(`${SENTINEL}-webhook`), `${f.path} leaks the webhook URL`);

      const original = file(r, SERVICES.alertmanager.config).content;
      const rewritten = webhookUrlFileToUrlForAmtool025(original);
      assert.notEqual(rewritten, YAML.stringify(YAML.parse(original)), "the rewrite changed something");
      assert.deepEqual(withoutWebhookUrls(YAML.parse(rewritten)), withoutWebhookUrls(YAML.parse(original)));
    });
  });
});
