/**
 * Log alerts (issue 16): the `logAlerts` config and its defaults, Loki's ruler, the generated rule file, and the
 * path that brings the host's own logs to Loki with the labels the default alerts select by.
 *
 * No Loki or collector binary exists here: their configs are checked structurally against the keys read from their
 * sources at the pinned releases (docs/log-alerts.md lists each key with its source file). The rule file is checked
 * by the real `promtool check rules` (structure, label names, annotation templates; the LogQL expressions replaced
 * by a PromQL stand-in, which promtool can parse) and every LogQL expression by Grafana's grammar.
 */
import { strict as assert } from "assert";
import { runbookUrl } from "../rules/runbook-links";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError } from "../config/config-problems";
import { loadStackConfig } from "../config/loader";
import { StackConfig } from "../config/stack-config";
import { parseDuration } from "../config/duration";
import { DATA_MOUNT, LOKI_RULER, LOKI_RULES_FILE, SERVICE_UNITS, SERVICES } from "../layout/host-layout";
import { alertmanagerFlags } from "../hostfiles/services/flags";
import { serviceFiles } from "../hostfiles/services";
import { unitFiles } from "../hostfiles/units";
import { placeholderBundleContext } from "../layout/host-file";
import { APPLICATION_LOG_ALERT, HOST_LOG_ALERT, HOST_LOG_NAMESPACE, HOST_LOG_SERVICES, LOG_ALERT_DEFAULT_FILTER } from "../config/log-alert-defaults";
import { logqlProblem } from "../config/logql";
import { logAlertExpr } from "../rules/log-alert-rules";
import { stackConfig, stackSource } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";

type Doc = Record<string, any>;
const K = (key: string) => `monitoring-hosts:logAlerts${key}`;

function problems(overrides: Record<string, unknown>): { key: string; message: string }[] {
  try {
    loadStackConfig(stackSource("dev", overrides));
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.ok(!/\n\s+at /.test(e.message), "no stack trace in the message");
    return e.problems;
  }
  assert.fail("config loaded, but a problem was expected");
}

function expectProblem(logAlerts: unknown, key: string, pattern: RegExp): void {
  const found = problems({ logAlerts });
  const hit = found.find((p) => p.key === key);
  assert.ok(hit, `no problem for ${key}; got: ${JSON.stringify(found)}`);
  assert.match(hit.message, pattern);
}

/** Entries exercising every field: a config the defaults alone never produce. */
const VARIED = [
  { name: "loki-log-errors", threshold: 50, window: "10m" },
  // An application whose pino stdout JSON is shipped by an agent: numeric levels (docs/log-alerts.md).
  { name: "legacy-api-errors", service: "legacy-api", filter: "| json | level >= 50", threshold: 3 },
  { name: "billing-timeouts", service: "billing-api", filter: '|~ "(?i)timeout" | line_format "{{.service_name}}"', threshold: 5 },
  { name: "grafana-log-errors", enabled: false },
  {
    name: "appointments-db-errors",
    service: "appointments-api",
    filter: '|= "ECONNREFUSED" != "healthcheck" | detected_level="error"',
    threshold: 0,
    for: "1m",
    severity: "page",
    labels: { team: "appointments" },
    runbook: "application-log-errors",
  },
  {
    name: "checkout-5xx-rate",
    alert: "CheckoutServerErrors",
    service: "checkout-api",
    selector: '{service_name=~"checkout-api|checkout-worker"}',
    filter: "| json | status >= 500",
    measure: "rate",
    threshold: 0.5,
    window: "1h30m",
    summary: "Checkout answers 5xx",
    description: "{{ $value | humanize }} 5xx lines per second",
    runbook: "https://runbooks.example.org/checkout",
  },
];

const configs: [string, () => StackConfig][] = [
  ["dev", () => stackConfig("dev")],
  ["prd", () => stackConfig("prd")],
  ["dev with varied logAlerts", () => stackConfig("dev", { logAlerts: VARIED })],
  ["dev without SLOs", () => stackConfig("dev", { slos: [] })],
];

function rendered(cfg: StackConfig) {
  const files = serviceFiles(cfg, placeholderBundleContext(cfg.stack));
  const get = (p: string) => {
    const f = files.find((x) => x.path === p);
    assert.ok(f, `${p} is not rendered`);
    return f;
  };
  return { files, get, yaml: (p: string) => YAML.parse(get(p).content) as Doc };
}

describe("log alerts (logAlerts, Loki's ruler)", () => {
  describe("config", () => {
    it("defaults: an error burst alert for each of the host's services and for each service with an SLO", () => {
      const cfg = stackConfig("dev");
      const host = cfg.logAlerts.filter((a) => a.origin === "host");
      assert.deepEqual(host.map((a) => a.service).sort(), Object.keys(HOST_LOG_SERVICES).sort());
      assert.deepEqual(Object.keys(HOST_LOG_SERVICES).sort(), ["alertmanager", "grafana", "loki", "otelcol", "prometheus", "tempo"]);
      for (const a of host) {
        assert.equal(a.alert, HOST_LOG_ALERT);
        assert.equal(a.selector, `{service_namespace="${HOST_LOG_NAMESPACE}", service_name="${a.service}"}`);
        assert.equal(a.labels.job, a.service, "MonitoringTargetDown inhibits by job");
      }
      const apps = cfg.logAlerts.filter((a) => a.origin === "application");
      assert.deepEqual(apps.map((a) => a.service), [...new Set(cfg.slos.map((s) => s.service))]);
      for (const a of apps) {
        assert.equal(a.alert, APPLICATION_LOG_ALERT);
        assert.equal(a.filter, LOG_ALERT_DEFAULT_FILTER);
      }
      assert.deepEqual(stackConfig("dev", { slos: [] }).logAlerts.filter((a) => a.origin === "application"), []);
    });

    it("an entry named like a default changes only what it sets; enabled: false removes it; new names add alerts", () => {
      const base = stackConfig("dev").logAlerts;
      const cfg = stackConfig("dev", { logAlerts: VARIED }).logAlerts;
      const loki = cfg.find((a) => a.name === "loki-log-errors")!;
      const lokiBase = base.find((a) => a.name === "loki-log-errors")!;
      assert.equal(loki.threshold, 50);
      assert.equal(loki.window.text, "10m");
      assert.equal(loki.selector, lokiBase.selector);
      assert.equal(loki.for.seconds, lokiBase.for.seconds);
      assert.deepEqual(loki.labels, lokiBase.labels);
      assert.doesNotMatch(loki.description, /threshold 10\b/, "a changed threshold regenerates the default's texts");
      assert.ok(!cfg.some((a) => a.name === "grafana-log-errors"));
      const added = cfg.find((a) => a.name === "appointments-db-errors")!;
      assert.equal(added.alert, "AppointmentsDbErrors");
      assert.equal(added.selector, '{service_name="appointments-api"}');
      assert.equal(added.origin, "stack");
      assert.equal(cfg.length, base.length - 1 + 4);
    });

    it("a service written namespace/name selects both labels", () => {
      const cfg = stackConfig("dev", { logAlerts: [{ name: "clinic-errors", service: "clinic/appointments-api", threshold: 5 }] });
      assert.equal(cfg.logAlerts.find((a) => a.name === "clinic-errors")!.selector, '{service_namespace="clinic", service_name="appointments-api"}');
      const slo = { name: "x-errors", service: "clinic/billing-api", kind: "availability", selector: { route: "/x" }, objective: 99, window: "28d" };
      const withSlo = stackConfig("dev", { slos: [slo] });
      assert.equal(
        withSlo.logAlerts.find((a) => a.service === "clinic/billing-api")!.selector,
        '{service_namespace="clinic", service_name="billing-api"}',
      );
    });

    it("refuses bad entries, naming the key and what is allowed", () => {
      expectProblem({ name: "x" }, K(""), /must be a list of log alerts/);
      expectProblem(["x"], K("[0]"), /must be an object/);
      expectProblem([{ name: "Bad_Name", service: "a" }], K("[0].name"), /lower-case letters, digits and dashes/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, colour: "red" }], K("[0].colour"), /unknown field; allowed: name, enabled/);
      expectProblem([{ name: "a-errors", threshold: 1 }], K("[0].service"), /is required/);
      expectProblem([{ name: "a-errors", service: "a" }], K("[0].threshold"), /is required/);
      expectProblem([{ name: "a-errors", service: "a", threshold: -1 }], K("[0].threshold"), /at least 0/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 2.5 }], K("[0].threshold"), /whole number of lines/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, measure: "sum" }], K("[0].measure"), /allowed: count .*rate/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, window: "30s" }], K("[0].window"), /from 1m to 24h/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, window: "2d" }], K("[0].window"), /from 1m to 24h/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, for: "soon" }], K("[0].for"), /from 0s to 24h/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, severity: "urgent" }], K("[0].severity"), /allowed: page, ticket/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, labels: { severity: "page" } }], K("[0].labels.severity"), /reserved/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, labels: { "team-name": "x" } }], K("[0].labels.team-name"), /not a valid label name/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, alert: "lower" }], K("[0].alert"), /UpperCamelCase/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, runbook: "docs/x.md" }], K("[0].runbook"), /file name under docs\/runbooks/);
      expectProblem([{ name: "nothing-errors", enabled: false }], K("[0].enabled"), /only turns off a built-in default/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, labels: { team: "{{ $labels.team }}" } }], K("[0].labels.team"), /contains "\{\{"/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, summary: "{{ $value errors" }], K("[0].summary"), /unbalanced/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, severty: "page" }], K("[0].severty"), /did you mean "severity"\?/);
      expectProblem(
        [
          { name: "a-errors", service: "a", threshold: 1 },
          { name: "a-errors", service: "b", threshold: 1 },
        ],
        K("[1].name"),
        /already the name of/,
      );
      expectProblem(
        [
          { name: "a-errors", service: "a", threshold: 1, alert: "Same" },
          { name: "b-errors", service: "a", threshold: 5, alert: "Same" },
        ],
        K(""),
        /both send alert Same for service a/,
      );
    });

    it("refuses LogQL that Loki would refuse, showing where (Grafana's grammar), before any resource", () => {
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, filter: '| detected_level=~"error' }], K("[0].filter"), /not valid LogQL \(syntax error at ⚠/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, filter: "|= timeout" }], K("[0].filter"), /⚠/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, selector: "{service_name=a}" }], K("[0].selector"), /not valid LogQL/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, selector: '{service_name=~".*"}' }], K("[0].selector"), /excludes the empty value/);
      expectProblem([{ name: "a-errors", service: "a", threshold: 1, selector: '{a="b"} |= "x"' }], K("[0].selector"), /only a stream selector/);
      expectProblem(
        [{ name: "a-errors", service: "a", threshold: 1, filter: 'sum(count_over_time({a="b"}[5m]))' }],
        K("[0].filter"),
        /not valid LogQL|log query is needed/,
      );
    });
  });

  describe("LogQL checks", () => {
    it("detect lezer's error nodes (the parser never throws) and accept valid queries", () => {
      assert.equal(logqlProblem('{service_name="a"} | detected_level=~"error|fatal"', "log"), undefined);
      assert.equal(logqlProblem('sum by (service_name) (count_over_time({service_name="a"}[5m])) > 3', "metric"), undefined);
      assert.match(logqlProblem('sum(count_over_time({service_name="a"}[5m])', "metric")!, /⚠/);
      assert.match(logqlProblem('{service_name="a"}', "metric")!, /metric query is needed/);
      assert.match(logqlProblem('{service_name=""}', "log")!, /excludes the empty value/);
    });
  });

  for (const [name, cfg] of configs) {
    describe(`stack: ${name}`, () => {
      let tmp: { dir: string; cleanup(): void };
      before(() => (tmp = tempDir("log-rules-")));
      after(() => tmp.cleanup());

      it("Loki's ruler: local rule storage on the data volume, the local Alertmanager, the stack's external labels", () => {
        const c = cfg();
        const r = rendered(c);
        const loki = r.yaml(SERVICES.loki.config);
        const prom = r.yaml(SERVICES.prometheus.config);
        assert.deepEqual(Object.keys(loki.ruler).sort(), [
          "alertmanager_url",
          "enable_alertmanager_v2",
          "evaluation_interval",
          "external_labels",
          "poll_interval",
          "rule_path",
          "storage",
        ]);
        assert.deepEqual(loki.ruler.storage, { type: "local", local: { directory: LOKI_RULER.storageDir } });
        // Rule storage on the data volume, outside Loki's StateDirectory= (which systemd may chown to loki); the
        // ruler's scratch files inside it (Loki writes them).
        assert.ok(String(loki.ruler.storage.local.directory).startsWith(`${DATA_MOUNT}/`));
        assert.ok(!String(loki.ruler.storage.local.directory).startsWith(`${SERVICES.loki.dataDir}/`));
        assert.ok(String(loki.ruler.rule_path).startsWith(`${SERVICES.loki.dataDir}/`), "rule_path is writable by Loki");
        // The rule file sits in the tenant directory the ruler lists (auth disabled: tenant "fake").
        assert.equal(path.posix.dirname(LOKI_RULES_FILE), `${loki.ruler.storage.local.directory}/fake`);
        assert.equal(loki.auth_enabled, false);
        // The Alertmanager listens where the ruler sends.
        const listen = alertmanagerFlags().find((f) => f.startsWith("--web.listen-address="))!.split("=")[1];
        assert.equal(loki.ruler.alertmanager_url, `http://${listen}`);
        // Same external labels as Prometheus: routing and silences see log alerts like every other alert.
        assert.deepEqual(loki.ruler.external_labels, prom.global.external_labels);
        for (const d of [loki.ruler.evaluation_interval, loki.ruler.poll_interval]) assert.ok(parseDuration(d)!.seconds <= 60, d);
      });

      it("the rule file: owned root, readable by Loki, no restart on change (the ruler polls)", () => {
        const f = rendered(cfg()).get(LOKI_RULES_FILE);
        assert.equal(f.owner, `root:${SERVICES.loki.user}`);
        assert.equal(f.mode, "0640");
        assert.equal(f.onChange, undefined);
      });

      it("every rule passes Loki's rule checks: known fields, an alert with labels, annotations and a LogQL metric query", () => {
        const c = cfg();
        const doc = rendered(c).yaml(LOKI_RULES_FILE);
        const groups = doc.groups as Doc[];
        assert.deepEqual(Object.keys(doc), ["groups"]);
        assert.equal(new Set(groups.map((g) => g.name)).size, groups.length, "group names unique in the file");
        const rules = groups.flatMap((g) => g.rules as Doc[]);
        assert.equal(rules.length, c.logAlerts.length);
        for (const g of groups) {
          for (const k of Object.keys(g)) assert.ok(["name", "interval", "rules", "limit"].includes(k), `group key ${k}`);
        }
        for (const rule of rules) {
          for (const k of Object.keys(rule)) assert.ok(["alert", "expr", "for", "labels", "annotations"].includes(k), `rule key ${k}`);
          assert.equal(logqlProblem(rule.expr, "metric"), undefined, `${rule.labels.log_alert}: ${rule.expr}`);
          assert.ok(["page", "ticket"].includes(rule.labels.severity));
          assert.ok(rule.labels.service && rule.labels.log_alert);
          assert.deepEqual(Object.keys(rule.annotations).sort(), ["description", "runbook_url", "summary"]);
          const url = rule.annotations.runbook_url as string;
          const spec = c.logAlerts.find((x) => x.name === rule.labels.log_alert)!;
          if (!/^https?:\/\//.test(spec.runbook)) {
            const file = `${spec.runbook}.md`;
            assert.equal(url, runbookUrl(c, { file }));
            assert.ok(fs.existsSync(path.join(__dirname, "..", "docs", "runbooks", file)), `${rule.labels.log_alert}: runbook ${file} does not exist`);
          } else {
            assert.match(url, /^https?:\/\//, "an entry's own runbook URL");
          }
          for (const [k, v] of Object.entries(rule.labels)) {
            assert.match(k, /^[a-zA-Z_][a-zA-Z0-9_]*$/);
            assert.equal(typeof v, "string");
          }
        }
        // The alert reports per service: the result keeps service_name for the descriptions.
        for (const a of c.logAlerts) assert.match(logAlertExpr(a), /^sum by \(service_name\) \((count_over_time|rate)\(/);
      });

      it("promtool check rules accepts the file's structure, labels and annotation templates (LogQL swapped for vector(1))", function () {
        requireTool(this, "promtool");
        const doc = rendered(cfg()).yaml(LOKI_RULES_FILE);
        for (const g of doc.groups as Doc[]) for (const rule of g.rules as Doc[]) rule.expr = "vector(1)";
        const file = path.join(tmp.dir, "log-alerts.yml");
        fs.writeFileSync(file, YAML.stringify(doc));
        const r = run("promtool", ["check", "rules", file]);
        assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
        const count = (doc.groups as Doc[]).reduce((n, g) => n + g.rules.length, 0);
        assert.match(r.stdout, new RegExp(`SUCCESS: ${count} rules found`));
      });
    });
  }

  it("the promtool check can fail: a broken annotation template is refused", function () {
    requireTool(this, "promtool");
    const tmp = tempDir("log-rules-bad-");
    try {
      const file = path.join(tmp.dir, "bad.yml");
      fs.writeFileSync(file, YAML.stringify({ groups: [{ name: "x", rules: [{ alert: "X", expr: "vector(1)", annotations: { summary: "{{ $value " } }] }] }));
      assert.notEqual(run("promtool", ["check", "rules", file]).status, 0);
    } finally {
      tmp.cleanup();
    }
  });

  describe("the host's logs reach Loki with the labels the defaults select by", () => {
    const c = stackConfig("dev");
    const r = rendered(c);
    const otel = r.yaml(SERVICES.otelcol.config);

    it("one journald receiver per host service, setting service.name and service.namespace, keeping MESSAGE as the line", () => {
      for (const a of c.logAlerts.filter((x) => x.origin === "host")) {
        const rcv = otel.receivers[`journald/${a.service}`];
        assert.ok(rcv, `no journald receiver for ${a.service}`);
        assert.deepEqual(rcv.units, [HOST_LOG_SERVICES[a.service]]);
        // The default alert's selector names exactly these two labels (Loki makes the attributes index labels).
        assert.equal(a.selector, `{service_namespace="${rcv.resource["service.namespace"]}", service_name="${rcv.resource["service.name"]}"}`);
        assert.deepEqual(rcv.operators, [{ type: "move", from: "body.MESSAGE", to: "body" }]);
        assert.ok(rcv.storage in otel.extensions, "the cursor survives restarts");
      }
      assert.deepEqual(Object.values(HOST_LOG_SERVICES).sort(), ["alertmanager", "grafana", "loki", "otelcol", "prometheus", "tempo"].map((s) => SERVICE_UNITS[s as keyof typeof SERVICE_UNITS]).sort());
    });

    it("Loki detects levels: structured metadata allowed and discover_log_levels not turned off (detected_level)", () => {
      const loki = r.yaml(SERVICES.loki.config);
      // The distributor adds detected_level only when both hold (FieldDetector.shouldDiscoverLogLevels in
      // pkg/distributor/field_detection.go; discover_log_levels defaults to true in pkg/validation/limits.go).
      assert.equal(loki.limits_config.allow_structured_metadata, true);
      assert.notEqual(loki.limits_config.discover_log_levels, false);
      for (const a of c.logAlerts) assert.match(a.filter, /detected_level/, `${a.name}: the defaults filter on the detected level`);
    });

    it("a logs pipeline takes every journald receiver to Loki", () => {
      const p = otel.service.pipelines["logs/host"];
      assert.deepEqual([...p.receivers].sort(), Object.keys(otel.receivers).filter((k) => k.startsWith("journald/")).sort());
      assert.deepEqual(p.exporters, ["otlp_http/loki"]);
    });

    it("applications cannot pose as the host: OTLP log records with the host's namespace are dropped", () => {
      const apps = otel.service.pipelines.logs;
      const guards = (apps.processors as string[]).filter((id) => id.startsWith("filter/"));
      const conditions = guards.flatMap((id) => (otel.processors[id].logs?.log_record ?? []) as string[]);
      assert.ok(
        conditions.includes(`resource.attributes["service.namespace"] == "${HOST_LOG_NAMESPACE}"`),
        `no filter in the applications' logs pipeline drops service.namespace=${HOST_LOG_NAMESPACE}: ${JSON.stringify(conditions)}`,
      );
      assert.deepEqual(otel.service.pipelines["logs/host"].receivers.filter((r: string) => r === "otlp"), [], "OTLP does not feed logs/host");
    });

    it("the collector's unit may read the journal (systemd-journal group)", () => {
      const unit = unitFiles(c).find((f) => f.path.endsWith(`/${SERVICE_UNITS.otelcol}`))!;
      assert.match(unit.content, /^SupplementaryGroups=systemd-journal$/m);
    });
  });
});
