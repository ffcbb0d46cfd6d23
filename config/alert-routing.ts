/**
 * Which receiver gets which alert (docs/configuration.md, "Routing"). One pure description of the routing that both
 * the Alertmanager config (hostfiles/services/alertmanager.ts) and the config validation use, so what validation
 * proves is what Alertmanager does (tests/alert-routing.spec.ts checks it against `amtool config routes test`).
 *
 * For each severity, in this order:
 * 1. receivers with a `match` (label → value, e.g. `team: billing`): the first match, in the order of
 *    `alertReceivers`, whose labels all equal the alert's takes it, with every receiver sharing that same `match`;
 * 2. otherwise the receivers without `match` that take the severity (the fallback for that severity);
 * 3. otherwise the root receiver: the first receiver without `match` that takes tickets (or the first without
 *    `match`). The Watchdog never falls to the root: unclaimed, it is discarded.
 *
 * This module must not import config/loader.ts (which imports it).
 */
import { sloAlertNames, sloServices } from "./slo-alerts";
import type { SloSpec } from "./slo-spec";
import type { ConfigProblems } from "./config-problems";
import { ROUTED_SEVERITIES, type RoutedSeverity } from "./severities";

export interface RoutableReceiver {
  name: string;
  severities: readonly string[];
  /** Label → value; all must equal the alert's labels. Absent: a fallback receiver. */
  match?: Record<string, string>;
}

/** One route of the tree: alerts of `severity` whose labels include `match` go to `receivers`. */
export interface RouteGroup {
  severity: RoutedSeverity;
  /** Empty for the fallback group of a severity. */
  match: Record<string, string>;
  receivers: string[];
}

const matchKey = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)));

/** The route groups in evaluation order: per severity, the distinct `match` sets (list order), then the fallback. */
export function routeGroups(receivers: readonly RoutableReceiver[]): RouteGroup[] {
  const groups: RouteGroup[] = [];
  for (const severity of ROUTED_SEVERITIES) {
    const takers = receivers.filter((r) => r.severities.includes(severity));
    const byMatch = new Map<string, RouteGroup>();
    for (const r of takers.filter((x) => x.match && Object.keys(x.match).length)) {
      const key = matchKey(r.match!);
      const g = byMatch.get(key) ?? { severity, match: { ...r.match! }, receivers: [] };
      g.receivers.push(r.name);
      byMatch.set(key, g);
    }
    groups.push(...byMatch.values());
    const fallback = takers.filter((x) => !x.match || Object.keys(x.match).length === 0).map((x) => x.name);
    if (fallback.length) groups.push({ severity, match: {}, receivers: fallback });
  }
  return groups;
}

const isFallback = (r: RoutableReceiver) => !r.match || Object.keys(r.match).length === 0;

/** The receiver of the tree's root: alerts no route takes (an unknown severity, or no fallback for theirs). */
export function rootReceiver(receivers: readonly RoutableReceiver[]): string | undefined {
  const fallbacks = receivers.filter(isFallback);
  return (fallbacks.find((r) => r.severities.includes("ticket")) ?? fallbacks[0])?.name;
}

/** Where an alert with these labels is delivered; `viaRoot` when no route of its severity took it. */
export function routeAlert(labels: Record<string, string>, receivers: readonly RoutableReceiver[]): { receivers: string[]; viaRoot: boolean } {
  const group = routeGroups(receivers).find(
    (g) => g.severity === labels.severity && Object.entries(g.match).every(([k, v]) => labels[k] === v),
  );
  if (group) return { receivers: group.receivers, viaRoot: false };
  if (labels.severity === "watchdog") return { receivers: [], viaRoot: false };
  const root = rootReceiver(receivers);
  return { receivers: root ? [root] : [], viaRoot: true };
}

/** Every alert an SLO list generates, with the index of the SLO it belongs to (labels exactly as rendered). */
export function sloAlertLabels(slos: SloSpec[], scrapedServices: string[]): { index: number; alert: string; labels: Record<string, string> }[] {
  const out: { index: number; alert: string; labels: Record<string, string> }[] = [];
  slos.forEach((spec, index) => {
    for (const a of sloAlertNames(spec)) out.push({ index, alert: a.alert, labels: { alertname: a.alert, ...a.labels } });
  });
  for (const svc of sloServices(slos, scrapedServices)) {
    if (!svc.alert) continue;
    const index = slos.findIndex((s) => s.service === svc.service);
    out.push({ index, alert: svc.alert.alert, labels: { alertname: svc.alert.alert, ...svc.alert.labels } });
  }
  return out;
}

const showLabels = (l: Record<string, string>) =>
  Object.entries(l)
    .filter(([k]) => k !== "alertname")
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(", ");

/**
 * Proves that every alert of every SLO reaches a receiver that takes its severity (a page reaches someone who is
 * paged, not only a ticket queue through the root), and that a fallback receiver exists. Problems name the key.
 */
export function checkRouting(
  slos: SloSpec[],
  receivers: readonly RoutableReceiver[],
  scrapedServices: string[],
  p: ConfigProblems,
  keys: { slos: string; receivers: string },
): void {
  if (receivers.length === 0) return; // reported by the receivers' own check
  if (!receivers.some(isFallback)) {
    p.add(
      keys.receivers,
      "every receiver has a `match`: alerts no match selects (the monitoring host's own alerts, alerts without a team label) " +
        "would reach nobody; add a fallback receiver without `match`",
    );
    return;
  }
  const reported = new Set<string>();
  for (const a of sloAlertLabels(slos, scrapedServices)) {
    const severity = a.labels.severity;
    if (severity !== "page" && severity !== "ticket") continue;
    const routed = routeAlert(a.labels, receivers);
    const takers = routed.receivers.filter((n) => receivers.find((r) => r.name === n)?.severities.includes(severity));
    const key = `${keys.slos}[${a.index}]`;
    if (takers.length > 0 || reported.has(`${key}/${severity}`)) continue;
    reported.add(`${key}/${severity}`);
    p.add(
      key,
      `its ${severity} alert ${a.alert} (${showLabels(a.labels)}) reaches no receiver that takes severity ${JSON.stringify(severity)}: ` +
        `no ${keys.receivers} entry with severity ${severity} has a \`match\` these labels satisfy, and no receiver without \`match\` takes ${severity}` +
        (routed.receivers.length ? ` (it would fall to the root receiver ${JSON.stringify(routed.receivers[0])})` : "") +
        `; add a receiver for it or set the SLO's alerting.labels to a team that has one`,
    );
  }
}
