/**
 * Every alert the project ships (SLO rules, meta-alerts, the CloudWatch alarm for the host itself) leads on-call to
 * a runbook that exists, every runbook belongs to an alert, and every runbook has the sections on-call needs.
 */
import { strict as assert } from "assert";
import { hostAlarmDescription, STATUS_CHECK_ACTIONS, StatusCheck } from "../config/host-alarm-text";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { renderHostFiles } from "../hostfiles/host-files";
import { renderUserData } from "../hostfiles/user-data";
import { LOKI_RULES_FILE, PROMETHEUS_RULES_DIR } from "../layout/host-layout";
import { placeholderBundleContext, placeholderUserDataContext } from "../layout/host-file";
import { stackConfig } from "./support/stacks";
import { ConfigError } from "../config/config-problems";
import { tunnelCommands } from "../components/access-info";
import { renderRunbooks, runbookDashboards } from "../dashboards/runbooks";
import { SERVICES } from "../layout/host-layout";
import { hostScript } from "../hostfiles/templates";
import { BIN_DIR, SUDO_SECURE_PATH } from "../hostfiles/ssh-access";
import { runbookUid, runbookUrl } from "../rules/runbook-links";
import { publishedRunbooks } from "../scripts/render";
import { OTEL_APP_METRIC_EXPIRATION } from "../hostfiles/services/otelcol";
import { buildSloModels } from "../rules/slo-model";

const RUNBOOK_DIR = path.resolve(__dirname, "..", "docs", "runbooks");
/** Runbooks linked from outside Prometheus: the CloudWatch alarms' descriptions (components/host-alarms.ts). */
const NON_PROMETHEUS_RUNBOOKS = ["monitoring-host-down.md"];
const REQUIRED_SECTIONS: [string, RegExp][] = [
  ["what it means", /^## What (it|this) means/im],
  ["how to connect", /^## Connect/im],
  ["first commands", /^## First (five minutes|commands)/im],
  ["mitigation", /^## Mitigation/im],
  ["escalation", /^## Escalat/im],
];

interface ShippedAlert {
  stack: string;
  alert: string;
  runbookUrl: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function shippedAlerts(stack: string, overrides: Record<string, unknown> = {}): ShippedAlert[] {
  const cfg = stackConfig(stack, overrides);
  // Prometheus' rule files and Loki's (log alerts).
  const files = renderHostFiles(cfg, placeholderBundleContext(stack)).filter((f) => f.path.startsWith(`${PROMETHEUS_RULES_DIR}/`) || f.path === LOKI_RULES_FILE);
  assert.ok(files.length >= 2, "meta-alerts and SLO rules are both shipped");
  return files.flatMap((f) =>
    (YAML.parse(f.content).groups as any[]).flatMap((g) =>
      (g.rules as any[])
        .filter((r) => r.alert)
        .map((r) => ({ stack, alert: r.alert, runbookUrl: r.annotations?.runbook_url, labels: r.labels ?? {}, annotations: r.annotations ?? {} })),
    ),
  );
}

describe("runbooks", () => {
  // A stack with remoteWrite ships the remote-write alerts too.
  const alerts = [...["dev", "prd"].flatMap((s) => shippedAlerts(s)), ...shippedAlerts("prd", { remoteWrite: { workspace: "create" } })];
  const runbooks = fs.readdirSync(RUNBOOK_DIR).filter((f) => f.endsWith(".md") && f !== "README.md");

  it("every shipped alert has severity, summary, description and a runbook_url to a runbook the stack renders", () => {
    assert.ok(alerts.length > 10);
    for (const a of alerts) {
      const cfg = stackConfig(a.stack);
      const urls = new Map(renderRunbooks(cfg, buildSloModels(cfg)).map((r) => [runbookUrl(cfg, r.ref), r]));
      assert.ok(["page", "ticket", "watchdog"].includes(a.labels.severity), `${a.alert}: severity ${a.labels.severity}`);
      assert.ok(a.annotations.summary && a.annotations.description, `${a.alert}: summary and description`);
      const rb = urls.get(a.runbookUrl);
      assert.ok(rb, `${a.alert}: runbook_url ${a.runbookUrl} is no rendered runbook`);
      assert.ok(rb.markdown.includes(a.alert), `${a.alert}: its runbook does not name it`);
      assert.ok(fs.existsSync(path.join(RUNBOOK_DIR, rb.ref.file)), `${a.alert}: runbook ${rb.ref.file} does not exist in docs/runbooks/`);
    }
  });

  it("every runbook belongs to an alert the project ships", () => {
    const byUrl = new Map(
      ["dev", "prd"].flatMap((stack) => {
        const cfg = stackConfig(stack);
        return renderRunbooks(cfg, buildSloModels(cfg)).map((r) => [runbookUrl(cfg, r.ref), r.ref.file] as const);
      }),
    );
    const files = (a: ShippedAlert) => byUrl.get(a.runbookUrl);
    const linked = new Set([...alerts.map(files), ...NON_PROMETHEUS_RUNBOOKS]);
    const orphans = runbooks.filter((f) => !linked.has(f));
    assert.deepEqual(orphans, [], `runbooks no alert links to: ${orphans.join(", ")}`);
  });

  it("every runbook has the sections on-call needs and copy-pasteable commands", () => {
    for (const f of runbooks) {
      const text = fs.readFileSync(path.join(RUNBOOK_DIR, f), "utf8");
      for (const [what, re] of REQUIRED_SECTIONS) assert.match(text, re, `${f}: no section on ${what}`);
      assert.match(text, /```sh\n[\s\S]+?```/, `${f}: no shell commands`);
    }
  });

  it("every relative link in a runbook points at a file that exists", () => {
    for (const f of runbooks) {
      const text = fs.readFileSync(path.join(RUNBOOK_DIR, f), "utf8");
      for (const [, target] of text.matchAll(/\]\(((?!https?:|#|mailto:)[^)\s]+)\)/g)) {
        const p = path.resolve(RUNBOOK_DIR, target.split("#")[0]);
        assert.ok(fs.existsSync(p), `${f} links to ${target}, which does not exist`);
      }
    }
  });

  it("the first minutes show what fires and how to acknowledge it (never silencing the Watchdog)", () => {
    for (const f of runbooks) {
      const text = fs.readFileSync(path.join(RUNBOOK_DIR, f), "utf8");
      assert.match(text, /curl -s localhost:9090\/api\/v1\/alerts/, `${f}: no query of the firing alerts`);
      if (f === "watchdog.md" || f === "monitoring-host-down.md") continue; // never silenced / its Alertmanager is down
      assert.match(text, /amtool --alertmanager\.url=http:\/\/127\.0\.0\.1:9093 silence add /, `${f}: no silence command`);
    }
  });

  it("the SLO runbooks give LogQL and TraceQL to run in Grafana", () => {
    for (const f of ["slo-burn-rate.md", "slo-service-down.md"]) {
      const text = fs.readFileSync(path.join(RUNBOOK_DIR, f), "utf8");
      assert.match(text, /\{service_name="[^"]+"\}/, `${f}: no LogQL`);
      assert.match(text, /\{ resource\.service\.name = "[^"]+"/, `${f}: no TraceQL`);
    }
  });

  it("every systemctl/journalctl command names a unit the host has", () => {
    const units = new Set(
      renderHostFiles(stackConfig("dev"), placeholderBundleContext("dev"))
        .filter((f) => f.path.startsWith("/etc/systemd/system/"))
        .map((f) => path.basename(f.path).replace(/\.service$/, "")),
    );
    units.add("sshd");
    const docs = [...runbooks.map((f) => path.join(RUNBOOK_DIR, f)), path.resolve(RUNBOOK_DIR, "..", "operations.md")];
    for (const file of docs) {
      const text = fs.readFileSync(file, "utf8");
      for (const [, unitList] of text.matchAll(/(?:systemctl (?:status|restart|reload|start|stop)(?: --[a-z-]+)*|journalctl -u) ([a-z_.-]+(?: [a-z_][a-z_.-]+)*)/g)) {
        for (const unit of unitList.split(" ").filter((u) => !u.startsWith("-"))) {
          assert.ok(units.has(unit.replace(/\.service$/, "")), `${path.basename(file)}: no unit "${unit}" on the host`);
        }
      }
    }
  });

  it("the host has the tools the runbooks' commands use beyond the base image (jq)", () => {
    const usesJq = runbooks.some((f) => /\|\s*jq\b/.test(fs.readFileSync(path.join(RUNBOOK_DIR, f), "utf8")));
    assert.ok(usesJq, "the runbooks parse API output with jq");
    const userData = YAML.parse(renderUserData(stackConfig("dev"), placeholderUserDataContext("dev")));
    assert.ok(userData.packages.includes("jq"), "cloud-init installs jq");
  });

  it("the CloudWatch alarms' descriptions link to their runbook (or name it, when the host's Grafana serves them)", () => {
    const base = "https://runbooks.acme.internal/monitoring";
    for (const check of Object.keys(STATUS_CHECK_ACTIONS) as StatusCheck[]) {
      const withBase = hostAlarmDescription({ project: "p", stack: "s", runbookBaseUrl: base }, check);
      assert.ok(NON_PROMETHEUS_RUNBOOKS.some((rb) => withBase.includes(`${base}/${rb}`)), `the ${check} alarm links no runbook: ${withBase}`);
      const served = hostAlarmDescription({ project: "p", stack: "s" }, check);
      assert.ok(NON_PROMETHEUS_RUNBOOKS.some((rb) => served.includes(`docs/runbooks/${rb}`) && fs.existsSync(path.join(RUNBOOK_DIR, rb))), served);
    }
  });
});

describe("runbook facts agree with what is rendered", () => {
  it("the collector's metric expiration quoted in slo-service-down.md and docs/testing.md is the rendered one", () => {
    for (const f of [path.join(RUNBOOK_DIR, "slo-service-down.md"), path.resolve(RUNBOOK_DIR, "..", "testing.md")]) {
      const text = fs.readFileSync(f, "utf8").replace(/\s+/g, " ");
      const quoted = [...text.matchAll(/metric_expiration`?,? \(?(\d+m)/g)].map((m) => m[1]);
      assert.ok(quoted.length > 0, `${path.basename(f)} quotes no metric_expiration`);
      for (const q of quoted) assert.equal(q, OTEL_APP_METRIC_EXPIRATION, `${path.basename(f)} says ${q}`);
    }
  });
});

describe("runbook links work by default; runbookBaseUrl for teams publishing elsewhere", () => {
  it("without runbookBaseUrl every link opens the runbook dashboard on the host's Grafana (the tunnel's port)", () => {
    const cfg = stackConfig("prd");
    assert.equal(cfg.runbookBaseUrl, undefined);
    const dashboards = new Set(runbookDashboards(cfg, buildSloModels(cfg)).map((d) => d.uid));
    for (const r of renderRunbooks(cfg, buildSloModels(cfg))) {
      const url = runbookUrl(cfg, r.ref);
      assert.equal(url, `http://localhost:${SERVICES.grafana.ports.http}/d/${runbookUid(r.ref)}`);
      assert.ok(dashboards.has(runbookUid(r.ref)), url);
    }
    // The Grafana tunnel forwards the same local port the links use.
    assert.match(tunnelCommands(cfg, { instanceId: "i-0123456789abcdef0", privateIp: "10.0.1.20" }).grafana, new RegExp(`localPortNumber=${SERVICES.grafana.ports.http}`));
  });

  it("with runbookBaseUrl the links point below it, at the paths `npm run render` writes the runbooks to", () => {
    const base = "https://runbooks.acme.internal/monitoring";
    const cfg = stackConfig("prd", { runbookBaseUrl: base });
    const published = new Map(publishedRunbooks(cfg).map((p) => [p.path, p.markdown]));
    for (const r of renderRunbooks(cfg, buildSloModels(cfg))) {
      const url = runbookUrl(cfg, r.ref);
      assert.ok(url.startsWith(`${base}/`));
      assert.ok(published.has(url.slice(base.length + 1)), url);
    }
    // Links between published runbooks resolve relative to each page.
    for (const [p, md] of published) {
      for (const [, target] of md.matchAll(/\]\(((?!https?:|#|mailto:)[^)\s]+)\)/g)) {
        const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(p), target.split("#")[0]));
        assert.ok(published.has(resolved), `${p} links ${target} (${resolved}), which is not published`);
      }
    }
  });

  it("a prd stack with a placeholder runbookBaseUrl is refused, naming the key; dev may keep one", () => {
    for (const url of ["https://github.com/example-org/monitoring-hosts/blob/main/docs/runbooks", "https://runbooks.example.com", "https://wiki.corp.invalid/rb"]) {
      assert.throws(
        () => stackConfig("prd", { runbookBaseUrl: url }),
        (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.key === "monitoring-hosts:runbookBaseUrl" && /placeholder/.test(p.message)),
        url,
      );
      assert.equal(stackConfig("dev", { runbookBaseUrl: url }).runbookBaseUrl, url);
    }
    assert.equal(stackConfig("prd", { runbookBaseUrl: "https://github.com/acme/monitoring-hosts/blob/main/docs/runbooks" }).runbookBaseUrl?.startsWith("https://github.com/acme/"), true);
  });

  it("Grafana renders the text as written: no runbook contains Grafana's variable syntax or built-in macros", () => {
    for (const stack of ["dev", "prd"]) {
      for (const d of runbookDashboards(stackConfig(stack), buildSloModels(stackConfig(stack)))) {
        assert.deepEqual(d.templating?.list ?? [], [], `${d.uid} defines variables`);
        const content = String((d.panels?.[0] as { options?: { content?: string } }).options?.content);
        assert.ok(content.length > 200, d.uid);
        for (const re of [/\$__/, /\$\{/, /\[\[/, /\{\{/]) assert.ok(!re.test(content), `${d.uid}: ${re} would be interpolated by Grafana`);
      }
    }
  });
});

describe("runbook commands fit the host's permissions and layout (issue 13)", () => {
  const docs = () => [
    ...fs.readdirSync(RUNBOOK_DIR).filter((f) => f.endsWith(".md")).map((f) => path.join(RUNBOOK_DIR, f)),
    path.resolve(RUNBOOK_DIR, "..", "operations.md"),
  ];
  const commandLines = (file: string) =>
    [...fs.readFileSync(file, "utf8").matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n")).filter((l) => !/^\s*#/.test(l));

  it("reads service-owned files (0640 configs, 0750 data directories) through sudo", () => {
    // Config files are root:<service> 0640 and data directories <service> 0750 (hostfiles/services/common.ts,
    // the apply step): the login user reads neither.
    const dataDirs = Object.values(SERVICES).map((s) => s.dataDir).filter(Boolean) as string[];
    for (const file of docs()) {
      for (const line of commandLines(file)) {
        // Listing /etc/<service>/ is fine (0755); reading its files or anything in a data directory is not.
        const inData = dataDirs.some((d) => line.includes(d)) && /\b(promtool tsdb|du |ls |cat |find |tail |head )/.test(line);
        const inConfig = /\/etc\/(prometheus|alertmanager|loki|tempo|grafana|otelcol)\/\S*\.(ya?ml|ini)/.test(line) && /\b(promtool check|cat |awk |grep |head |tail )/.test(line);
        if (inData || inConfig) assert.match(line, /\bsudo\b/, `${path.basename(file)}: "${line.trim()}" reads a file the login user cannot`);
      }
    }
  });

  it("never offers ext4 tools for the data volume (it is always XFS) nor a bucket name without saying where it comes from", () => {
    assert.match(hostScript("monitoring-apply.sh"), /mkfs\.xfs /);
    for (const file of docs()) {
      const text = fs.readFileSync(file, "utf8");
      assert.ok(!/resize2fs|e2fsck|tune2fs/.test(text), `${path.basename(file)} offers an ext4 tool`);
      assert.ok(!/<(loki|tempo)-bucket>/.test(text), `${path.basename(file)} has a bucket placeholder`);
    }
  });

  it("the sudo'd tools are in the directory sudo's secure_path adds", () => {
    for (const tool of ["promtool", "amtool"]) assert.ok(SUDO_SECURE_PATH.split(":").includes(path.posix.dirname(`${BIN_DIR}/${tool}`)));
  });
});
