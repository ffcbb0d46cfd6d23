/**
 * The SLO-specific parts of a runbook, generated from the SLO model (the same one the rules come from), never
 * written by hand: the SLO's facts (service, route, method, objective, window, thresholds, where its alerts go)
 * and the first commands with this SLO's exact selectors. rules/runbook-links.ts puts them into the shared text of
 * docs/runbooks/<file> (replacing its generic "First five minutes").
 */
import { ALERT_NAMES, BURN_TIERS } from "../config/slo-alerts";
import { pct, RECORDS, RUNBOOKS } from "./slo-conventions";
import type { ServiceModel, SloModel } from "./slo-model";

/** A shell word in single quotes (the commands are copied into bash). */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const PROM = "localhost:9090";
const AMTOOL = "amtool --alertmanager.url=http://127.0.0.1:9093";

/** `curl` of an instant query, printing `<labels…> value` per series with jq. */
function query(expr: string, labels: string[] = []): string {
  const fields = [...labels.map((l) => `\\(.metric.${l} // "")`), "\\(.value[1])"].join(" ");
  return `curl -s ${PROM}/api/v1/query --data-urlencode ${sq(`query=${expr}`)} | jq -r ${sq(`.data.result[] | "${fields}"`)}`;
}

/** `key="value"` pairs for a silence: amtool takes them as arguments. */
function silence(matchers: Record<string, string>, duration: string, comment: string): string {
  const args = Object.entries(matchers).map(([k, v]) => sq(`${k}=${v}`));
  return `${AMTOOL} silence add ${args.join(" ")} --duration=${duration} --author="$USER" --comment=${sq(comment)}`;
}

function firing(select: string): string {
  return `curl -s ${PROM}/api/v1/alerts | jq ${sq(`.data.alerts[] | select(${select}) | {alertname: .labels.alertname, slo: .labels.slo, window: .labels.window, state, value, activeAt}`)}`;
}

/** TraceQL and LogQL of a service (its `service.name`; a `namespace/name` job has both). */
function explore(service: string, route?: string, method?: string, thresholdMs?: number): string[] {
  const slash = service.indexOf("/");
  const name = slash < 0 ? service : service.slice(slash + 1);
  const ns = slash < 0 ? "" : ` && resource.service.namespace = ${JSON.stringify(service.slice(0, slash))}`;
  const span = [route ? ` && span.http.route = ${JSON.stringify(route)}` : "", method ? ` && span.http.request.method = ${JSON.stringify(method)}` : ""].join("");
  const lines = [
    "# Tempo (TraceQL): failing requests" + (thresholdMs ? ", then slow ones" : ""),
    `{ resource.service.name = ${JSON.stringify(name)}${ns}${span} && span.http.response.status_code >= 500 }`,
  ];
  if (thresholdMs) lines.push(`{ resource.service.name = ${JSON.stringify(name)}${ns}${span} && duration > ${thresholdMs}ms }`);
  lines.push(
    "# Loki (LogQL): the service's errors (a log line's trace_id opens its trace)",
    `{service_name=${JSON.stringify(name)}} |~ "(?i)error|exception|fatal|panic"`,
    `sum by (detected_level) (count_over_time({service_name=${JSON.stringify(name)}}[5m]))`,
  );
  return lines;
}

/** Where the alert's notifications go, as the routing decides for its exact labels. */
export type RouteOf = (labels: Record<string, string>) => string[];

function routedTo(route: RouteOf, labels: Record<string, string>): string {
  const to = route(labels);
  return to.length ? to.map((r) => `\`${r}\``).join(", ") : "nobody (the Watchdog's discard)";
}

/** The "This SLO" section: what a given SLO is and where its alerts go. */
export function sloFacts(m: SloModel, route: RouteOf): string {
  const s = m.spec;
  const rows: [string, string][] = [
    ["SLO (`slo` label)", `\`${m.name}\``],
    ["service (`job`)", `\`${m.service}\``],
  ];
  if (s.selector.route) rows.push(["route (`http_route`)", `\`${s.selector.route}\``]);
  if (s.selector.method) rows.push(["method", `\`${s.selector.method}\``]);
  if (s.selector.pool) rows.push(["connection pool", `\`${s.selector.pool}\``]);
  rows.push(["kind", m.kind]);
  if (s.description) rows.push(["objective", s.description]);
  if (m.ratio) {
    rows.push(["target", `${pct(m.ratio.objective)} good over ${m.ratio.window} (error budget ${pct(m.ratio.errorBudget)})`]);
    if (m.ratio.latency) rows.push(["bad request", `slower than ${m.ratio.latency.thresholdSeconds * 1000} ms (bucket \`le="${m.ratio.latency.le}"\`)`]);
    else rows.push(["bad request", "answered with a 5xx status"]);
  }
  if (m.saturation) rows.push(["threshold", `used/max above ${pct(m.saturation.threshold)}, averaged over ${m.saturation.for}`]);
  rows.push(["SLI", m.sliDescription]);
  const extra = Object.entries(s.alerting.labels);
  if (extra.length) rows.push(["routing labels", extra.map(([k, v]) => `\`${k}=${v}\``).join(", ")]);
  const lines = ["| | |", "|---|---|", ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, "\\|")} |`), ""];
  lines.push("| alert | severity | fires when | notifies |", "|---|---|---|---|");
  for (const a of m.alerts) {
    const b = m.ratio?.burnAlerts.find((x) => x.alert === a.alert);
    const when = b
      ? `bad ratio above ${pct(b.badRatio)} (${b.burnRate}× the budget) over ${b.longWindow} and ${b.shortWindow}, ≥ ${b.minRequests} requests; for ${b.for}, keeps firing ${b.keepFiringFor}`
      : a.alert === ALERT_NAMES.dbSaturation
        ? `pool above ${pct(m.saturation!.threshold)} on average over ${m.saturation!.for}`
        : `no series \`${m.presenceSelector}\` for ${a.for}`;
    lines.push(`| \`${a.alert}\` | ${a.labels.severity} | ${when.replace(/\|/g, "\\|")} | ${routedTo(route, { alertname: a.alert, ...a.labels })} |`);
  }
  return lines.join("\n") + "\n";
}

/** The first commands for one SLO and one of its runbooks. */
export function sloFirstCommands(m: SloModel, file: string): string {
  const slo = JSON.stringify(m.name);
  const sh: string[] = [];
  const text: string[] = [];
  if (file === RUNBOOKS[ALERT_NAMES.metricsMissing]) {
    const job = `{job=${JSON.stringify(m.service)}}`;
    sh.push(
      "# 1. What fires for this SLO:",
      firing(`.labels.slo == ${slo}`),
      "# 2. The series the SLO needs (empty = what this alert says):",
      query(m.presenceSelector, ["instance"]),
      "# 3. What the service exports now (metric names):",
      `curl -s ${PROM}/api/v1/query --data-urlencode ${sq(`query=count by (__name__) (${job})`)} | jq -r '.data.result[].metric.__name__'`,
    );
    if (m.ratio) {
      sh.push(
        // -G: the label values API answers GET only (curl would POST the urlencoded data).
        "# 4. The histogram's bucket boundaries (is the threshold's there?) and the routes it reports:",
        `curl -sG ${PROM}/api/v1/label/le/values --data-urlencode ${sq(`match[]=${m.ratio.http.names.bucket}${job}`)} | jq -c .data`,
        `curl -sG ${PROM}/api/v1/label/${m.ratio.http.names.route}/values --data-urlencode ${sq(`match[]=${m.ratio.http.names.count}${job}`)} | jq -c .data`,
      );
    }
    sh.push("# 5. Silence while the instrumentation is fixed:", silence({ alertname: ALERT_NAMES.metricsMissing, slo: m.name }, "4h", "instrumentation fix in progress"));
  } else if (file === RUNBOOKS[ALERT_NAMES.dbSaturation] && m.saturation) {
    sh.push(
      "# 1. What fires for this SLO:",
      firing(`.labels.slo == ${slo}`),
      `# 2. Saturation now (threshold ${m.saturation.threshold}) and its ${m.saturation.for} average:`,
      query(`${RECORDS.saturation}{slo=${slo}}`),
      query(`avg_over_time(${RECORDS.saturation}{slo=${slo}}[${m.saturation.for}])`),
      "# 3. Per instance and pool (the worst one is what the SLO reports):",
      query(m.saturation.expr.replace(/^max\((.*)\)$/, "$1"), ["instance"]),
      "# 4. Silence while you work:",
      silence({ alertname: ALERT_NAMES.dbSaturation, slo: m.name }, "1h", "investigating"),
    );
  } else if (m.ratio) {
    const r = m.ratio;
    const n = r.http.names;
    const sel = `{${r.http.matchers}}`;
    sh.push(
      "# 1. What fires for this SLO, with values:",
      firing(`.labels.slo == ${slo}`),
      `# 2. Bad-request ratio of this SLO over every window (${r.burnAlerts.map((b) => `${b.alert}: above ${b.badRatio} over ${b.longWindow} and ${b.shortWindow}`).join("; ")}):`,
      `curl -s ${PROM}/api/v1/query --data-urlencode ${sq(`query={__name__=~"slo:sli_error:ratio_rate.*", slo=${slo}}`)} | jq -r '.data.result[] | "\\(.metric.__name__) \\(.value[1])"'`,
      "# 3. Requests per second by status code and instance, last 5 minutes:",
      query(`sum by (${n.status}, instance) (rate(${n.count}${sel}[5m]))`, [n.status, "instance"]),
    );
    if (r.latency) {
      sh.push(
        `# 3b. Latency per instance: p95 over 5 minutes, and the share slower than ${r.latency.thresholdSeconds * 1000} ms:`,
        query(`histogram_quantile(0.95, sum by (le, instance) (rate(${n.bucket}${sel}[5m])))`, ["instance"]),
        query(`1 - sum by (instance) (rate(${n.bucket}{${r.http.matchers}, le=${JSON.stringify(r.latency.le)}}[5m])) / sum by (instance) (rate(${n.count}${sel}[5m]))`, ["instance"]),
      );
    }
    sh.push(
      `# 4. Remaining error budget over ${r.window} (1 = untouched, 0 = spent):`,
      query(`${RECORDS.budgetRemaining}{slo=${slo}}`),
      "# 5. Acknowledge while you work (silences this SLO's burn-rate alerts for 1 hour):",
      // `alertname=~…`: amtool reads `=~` as a regex matcher.
      silence({ slo: m.name, alertname: `~${BURN_TIERS.map((t) => t.alert).join("|")}` }, "1h", "investigating, see incident channel"),
    );
    text.push(...explore(m.service, m.spec.selector.route, m.spec.selector.method, r.latency ? r.latency.thresholdSeconds * 1000 : undefined));
  }
  return block(sh, text);
}

/** The first commands of the service-down runbook of one service. */
export function serviceFirstCommands(svc: ServiceModel): string {
  const job = JSON.stringify(svc.service);
  const sh = [
    "# 1. Scrape state of the service's targets (directly scraped services):",
    `curl -s ${PROM}/api/v1/targets | jq ${sq(`.data.activeTargets[] | select(.labels.job == ${job}) | {instance: .labels.instance, health, lastError, lastScrape}`)}`,
    "# 2. When did its telemetry stop? (OTLP services: last sample of target_info)",
    `curl -s ${PROM}/api/v1/query --data-urlencode ${sq(`query=max(timestamp(last_over_time(target_info{job=${job}}[1h])))`)} | jq -r '.data.result[].value[1] | tonumber | todate'`,
    "# 3. Do the other services still send telemetry? (if not, the collector or the network is the problem)",
    `curl -s ${PROM}/api/v1/query --data-urlencode 'query=count by (job) (target_info)' | jq -r '.data.result[] | "\\(.metric.job) \\(.value[1])"'`,
    "# 4. Is the collector healthy?",
    "curl -s localhost:13133/ ; systemctl status otelcol --no-pager | head -5",
    "# 5. Acknowledge (silence this service's page for 30 minutes while you work):",
    silence({ alertname: ALERT_NAMES.serviceDown, service: svc.service }, "30m", "investigating"),
  ];
  return block(sh, explore(svc.service));
}

function block(sh: string[], explore: string[]): string {
  let out = "```sh\n" + sh.join("\n") + "\n```\n";
  if (explore.length) out += "\nIn Grafana (Explore), for this service:\n\n```text\n" + explore.join("\n") + "\n```\n";
  return out;
}
