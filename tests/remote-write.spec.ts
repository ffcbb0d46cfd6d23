/**
 * remoteWrite (docs/remote-write.md): what Prometheus, Grafana and AWS get when a stack writes to Amazon Managed
 * Service for Prometheus, checked with the real promtool, against Prometheus' source (key names read at the tags
 * named below), and under mocks for the AWS resources; and that a stack without the key renders as before.
 */
import { strict as assert } from "assert";
import { runbookUrl } from "../rules/runbook-links";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { byType, FAKE_ACCOUNT, resources, settle, valueOf } from "./support/mocks";
import { MonitoringStack } from "../components/monitoring-stack";
import { AMP_QUERY_ACTIONS, AMP_WRITE_ACTIONS } from "../components/host-identity";
import { renderHostFiles } from "../hostfiles/host-files";
import { GRAFANA_DATASOURCES_FILE, SERVICES } from "../layout/host-layout";
import { AMP_DATASOURCE_PLUGIN } from "../hostfiles/services/grafana";
import { REMOTE_WRITE_ALERTS_FILE, REMOTE_WRITE_QUEUE, remoteWriteAlertFiles, AMP_INGEST_SAMPLES_PER_SECOND } from "../hostfiles/services/remote-write";
import { placeholderBundleContext } from "../layout/host-file";
import { stackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";

const REPO = path.resolve(__dirname, "..");
const WS = "ws-b226cc2a-a446-46a9-933a-ac50479a5568";

/**
 * The remote_write, queue_config and sigv4 keys Prometheus reads (yaml tags of config.RemoteWriteConfig and
 * config.QueueConfig in config/config.go; SigV4Config in github.com/prometheus/sigv4 sigv4_config.go v0.4.1, the
 * module Prometheus v3.14.0 and main require; in 2.42 common/sigv4 of prometheus/common v0.39.0). v3.15.0 is not in
 * the stored snapshot (newest tag v3.14.0, main of 2026-08-21): both have these keys.
 */
const PROMETHEUS_KEYS = {
  remoteWrite: {
    "v2.42.0": ["url", "remote_timeout", "headers", "write_relabel_configs", "name", "send_exemplars", "send_native_histograms", "queue_config", "metadata_config", "sigv4"],
    "v3.14.0": ["url", "remote_timeout", "headers", "write_relabel_configs", "name", "send_exemplars", "send_native_histograms", "round_robin_dns", "protobuf_message", "queue_config", "metadata_config", "sigv4", "azuread", "google_iam"],
  },
  queue: {
    "v2.42.0": ["capacity", "max_shards", "min_shards", "max_samples_per_send", "batch_send_deadline", "min_backoff", "max_backoff", "retry_on_http_429"],
    "v3.14.0": ["capacity", "max_shards", "min_shards", "max_samples_per_send", "batch_send_deadline", "min_backoff", "max_backoff", "retry_on_http_429", "sample_age_limit"],
  },
  sigv4: ["region", "access_key", "secret_key", "profile", "role_arn", "external_id", "use_fips_sts_endpoint", "service_name"],
};

function files(stack: string, overrides: Record<string, unknown> = {}) {
  return new Map(renderHostFiles(stackConfig(stack, overrides), placeholderBundleContext(stack)).map((f) => [f.path, f.content]));
}

describe("remoteWrite: Prometheus to Amazon Managed Service for Prometheus", () => {
  for (const stack of ["dev", "prd"]) {
    describe(stack, () => {
      const plain = files(stack);
      const rw = files(stack, { remoteWrite: { workspace: WS } });
      const cfg = stackConfig(stack);
      const prom = YAML.parse(rw.get(SERVICES.prometheus.config)!);

      it("writes to the workspace's endpoint in the stack's region, SigV4-signed with nothing but the region (the instance role signs)", () => {
        assert.deepEqual(prom.remote_write.length, 1);
        const w = prom.remote_write[0];
        assert.equal(w.url, `https://aps-workspaces.${cfg.region}.amazonaws.com/workspaces/${WS}/api/v1/remote_write`);
        assert.deepEqual(w.sigv4, { region: cfg.region });
        assert.deepEqual(w.queue_config, REMOTE_WRITE_QUEUE);
      });

      it("renders only keys Prometheus 2.42 and 3.x both read (so promtool 2.42 checks the file the host runs)", () => {
        const w = prom.remote_write[0];
        for (const v of ["v2.42.0", "v3.14.0"] as const) {
          for (const key of Object.keys(w)) assert.ok(PROMETHEUS_KEYS.remoteWrite[v].includes(key), `${v} remote_write.${key}`);
          for (const key of Object.keys(w.queue_config)) assert.ok(PROMETHEUS_KEYS.queue[v].includes(key), `${v} queue_config.${key}`);
        }
        for (const key of Object.keys(w.sigv4)) assert.ok(PROMETHEUS_KEYS.sigv4.includes(key), `sigv4.${key}`);
      });

      it("the queue can reach AMP's ingest limit at one second per send, and no more; throttling retries instead of dropping", () => {
        const q = REMOTE_WRITE_QUEUE;
        assert.ok(q.max_shards * q.max_samples_per_send >= AMP_INGEST_SAMPLES_PER_SECOND);
        assert.ok((q.max_shards - 1) * q.max_samples_per_send < AMP_INGEST_SAMPLES_PER_SECOND);
        assert.ok(q.capacity >= 3 * q.max_samples_per_send);
        assert.equal(q.retry_on_http_429, true);
      });

      it("labels the samples cluster/__replica__ for AMP's deduplication and keeps __replica__ off the alerts", () => {
        assert.equal(prom.global.external_labels.cluster, `monitoring-hosts-${stack}`);
        assert.equal(typeof prom.global.external_labels.__replica__, "string");
        assert.deepEqual(prom.alerting.alert_relabel_configs, [{ action: "labeldrop", regex: "__replica__" }]);
      });

      it("adds only the remote-write pieces: every other file and every other key is as without remoteWrite", () => {
        const changed = [...rw.keys()].filter((p) => plain.get(p) !== rw.get(p)).sort();
        assert.deepEqual(
          changed,
          [REMOTE_WRITE_ALERTS_FILE, GRAFANA_DATASOURCES_FILE, SERVICES.grafana.config, SERVICES.prometheus.config, "/etc/systemd/system/grafana.service", "/etc/systemd/system/prometheus.service"].sort(),
        );
        assert.ok(!plain.has(REMOTE_WRITE_ALERTS_FILE));
        const before = YAML.parse(plain.get(SERVICES.prometheus.config)!);
        const after = structuredClone(prom);
        delete after.remote_write;
        delete after.alerting.alert_relabel_configs;
        delete after.global.external_labels.cluster;
        delete after.global.external_labels.__replica__;
        assert.deepEqual(after, before);
        assert.ok(!/remote_write|sigv4|__replica__/.test(plain.get(SERVICES.prometheus.config)!));
      });

      it("Grafana gets the AMP data source (the plugin, SigV4 with the default chain) and installs that pinned plugin", () => {
        const ds = YAML.parse(rw.get(GRAFANA_DATASOURCES_FILE)!).datasources;
        const amp = ds.find((d: any) => d.type === AMP_DATASOURCE_PLUGIN.id);
        assert.equal(amp.url, `https://aps-workspaces.${cfg.region}.amazonaws.com/workspaces/${WS}/`);
        assert.deepEqual(amp.jsonData, { sigV4Auth: true, sigV4AuthType: "default", sigV4Region: cfg.region });
        assert.match(rw.get(SERVICES.grafana.config)!, new RegExp(`^preinstall = ${AMP_DATASOURCE_PLUGIN.id}@${AMP_DATASOURCE_PLUGIN.version.replace(/\./g, "\\.")}$`, "m"));
        assert.ok(!plain.get(SERVICES.grafana.config)!.includes("preinstall ="));
      });

      it("promtool 2.42 accepts the rendered prometheus.yml with remote_write and sigv4, and the alert rules", function () {
        requireTool(this, "promtool");
        const t = tempDir("remote-write-");
        try {
          const doc = structuredClone(prom);
          doc.rule_files = [];
          fs.writeFileSync(path.join(t.dir, "prometheus.yml"), YAML.stringify(doc));
          const res = run("promtool", ["check", "config", "prometheus.yml"], { cwd: t.dir });
          assert.equal(res.status, 0, res.stdout + res.stderr);
          fs.writeFileSync(path.join(t.dir, "remote-write.yml"), rw.get(REMOTE_WRITE_ALERTS_FILE)!);
          const rules = run("promtool", ["check", "rules", "remote-write.yml"], { cwd: t.dir });
          assert.equal(rules.status, 0, rules.stdout + rules.stderr);
          // promtool refuses what Prometheus refuses: an unknown queue key fails (the check can fail).
          doc.remote_write[0].queue_config.max_shard = 1;
          fs.writeFileSync(path.join(t.dir, "bad.yml"), YAML.stringify(doc));
          assert.notEqual(run("promtool", ["check", "config", "bad.yml"], { cwd: t.dir }).status, 0);
        } finally {
          t.cleanup();
        }
      });
    });
  }

  it("the remote-write alerts fire on a lagging, failing, dropping or saturated queue and stay quiet otherwise (promtool test rules)", function () {
    requireTool(this, "promtool");
    const cfg = stackConfig("prd", { remoteWrite: { workspace: "create" } });
    const t = tempDir("remote-write-alerts-");
    try {
      fs.writeFileSync(path.join(t.dir, "remote-write.yml"), remoteWriteAlertFiles(cfg)[0].content);
      const test = fs.readFileSync(path.join(REPO, "tests/remote-write-alerts.test.yml"), "utf8").replace(/RUNBOOK_BASE\/([a-z0-9-]+\.md)/g, (_, file: string) => runbookUrl(cfg, { file }));
      fs.writeFileSync(path.join(t.dir, "test.yml"), test);
      const res = run("promtool", ["test", "rules", "test.yml"], { cwd: t.dir });
      assert.equal(res.status, 0, res.stdout + res.stderr);
    } finally {
      t.cleanup();
    }
  });
});

describe("remoteWrite: AWS resources (under mocks)", () => {
  const policyOf = (prefix: string) => JSON.parse(byType("aws:iam/rolePolicy:RolePolicy", `${prefix}-identity`)[0].inputs.policy);
  const bundleFile = (prefix: string, p: string) =>
    (JSON.parse(byType("aws:s3/bucketObjectv2:BucketObjectv2", `${prefix}-`)[0].inputs.content).files as { path: string; content: string }[]).find((f) => f.path === p)!.content;

  it("creates a protected, retained workspace in prd (workspace: create); the host may write to it and query it, nothing else", async () => {
    const prefix = "rw-create-prd";
    const stack = new MonitoringStack(prefix, { config: stackConfig("prd", { remoteWrite: { workspace: "create" } }) });
    await valueOf(stack.sshConfig);
    await settle();
    const ws = byType("aws:amp/workspace:Workspace", `${prefix}-`);
    assert.equal(ws.length, 1);
    assert.equal(ws[0].inputs.alias, "monitoring-hosts-prd");
    const amp = stack.parts.amp!;
    assert.equal((amp.workspace as unknown as { __protect?: boolean }).__protect, true);
    const arn = await valueOf(amp.arn);
    const statements = policyOf(prefix).Statement as { Sid: string; Action: string[]; Resource: string | string[] }[];
    const aps = statements.filter((s) => s.Action.some((a) => a.startsWith("aps:")));
    assert.deepEqual(
      aps.map((s) => [s.Sid, s.Action, s.Resource]),
      [
        ["AmpRemoteWrite", AMP_WRITE_ACTIONS, [arn]],
        ["AmpQueryForGrafana", AMP_QUERY_ACTIONS, [arn]],
      ],
    );
    const endpoint = await valueOf(amp.prometheusEndpoint);
    assert.equal(YAML.parse(bundleFile(prefix, SERVICES.prometheus.config)).remote_write[0].url, `${endpoint}api/v1/remote_write`);
  });

  it("uses an existing workspace by id: nothing created, the policy names its ARN in this account and region", async () => {
    const prefix = "rw-existing-dev";
    const stack = new MonitoringStack(prefix, { config: stackConfig("dev", { remoteWrite: { workspace: WS } }) });
    await valueOf(stack.sshConfig);
    await settle();
    assert.equal(byType("aws:amp/workspace:Workspace", `${prefix}-`).length, 0);
    const arn = `arn:aws:aps:eu-west-1:${FAKE_ACCOUNT}:workspace/${WS}`;
    assert.equal(await valueOf(stack.parts.amp!.arn), arn);
    const aps = (policyOf(prefix).Statement as { Action: string[]; Resource: string[] }[]).filter((s) => s.Action.some((a) => a.startsWith("aps:")));
    assert.ok(aps.length === 2 && aps.every((s) => s.Resource.length === 1 && s.Resource[0] === arn));
  });

  it("without remoteWrite: no workspace, no aps action, and the same resources (URNs) as before", async () => {
    const names = (prefix: string) => resources.filter((r) => r.name.startsWith(`${prefix}-`)).map((r) => `${r.type}::${r.name.slice(prefix.length)}`).sort();
    const a = new MonitoringStack("rw-none-dev", { config: stackConfig("dev") });
    await valueOf(a.sshConfig);
    const b = new MonitoringStack("rw-some-dev", { config: stackConfig("dev", { remoteWrite: { workspace: "create" } }) });
    await valueOf(b.sshConfig);
    await settle();
    assert.equal(byType("aws:amp/workspace:Workspace", "rw-none-dev-").length, 0);
    assert.ok(!JSON.stringify(policyOf("rw-none-dev")).includes("aps:"));
    const extra = names("rw-some-dev").filter((n) => !names("rw-none-dev").includes(n));
    assert.deepEqual(extra, ["aws:amp/workspace:Workspace::-amp", "monitoring-hosts:metrics:AmpWorkspace::-amp"]);
    assert.deepEqual(names("rw-none-dev").filter((n) => !names("rw-some-dev").includes(n)), []);
  });
});
