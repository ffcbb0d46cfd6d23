/**
 * "SLOs and error budget": one row per SLO of the stack's `slos` list, built from the SLO model (rules/slo-model.ts) —
 * the same recorded series, windows and alert names the Prometheus rules use. A new SLO gets its row without
 * anything written here.
 */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import type * as stat from "@grafana/grafana-foundation-sdk/stat";
import type * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import { runbookUid } from "../rules/runbook-links";
import { ALERT_NAMES } from "../config/slo-alerts";
import { pct, RECORDS, RUNBOOKS } from "../rules/slo-conventions";
import type { SloModel, SloModels } from "../rules/slo-model";
import { alertAnnotation, baseDashboard, dashboardLink, FIRING_MAPPINGS, finish, PromTarget, seriesPanel, statPanel } from "./common";
import { stableUid } from "../layout/dashboard-uid";
import { q } from "../rules/promql";

export const SLO_DASHBOARD_UID = stableUid("slo-overview");

/**
 * One 0/1 series per alert the SLO can raise: firing (1) or not (0). `or vector(0)` keeps a healthy system from
 * showing "No data": no ALERTS series exist while nothing fires.
 */
export function alertStatusTargets(m: SloModel): PromTarget[] {
  const names = [...new Set([...m.alertNames, ALERT_NAMES.serviceDown])];
  return names.map((alertname) => {
    // SloServiceDown is per service (its slo label lists every SLO of the service): match it by service.
    const sel =
      alertname === ALERT_NAMES.serviceDown
        ? `alertname=${q(alertname)}, service=${q(m.service)}`
        : `alertname=${q(alertname)}, slo=${q(m.name)}`;
    return { expr: `max(ALERTS{${sel}, alertstate="firing"}) or vector(0)`, legend: alertname, instant: true };
  });
}

/** Which alerts of the SLO fire now: the same panel ends every SLO's row, whatever its kind. */
function alertsPanel(m: SloModel) {
  return statPanel({
    title: "Alerts",
    description: "Whether each alert of this SLO is firing now (from Prometheus' ALERTS series).",
    targets: alertStatusTargets(m),
    mappings: FIRING_MAPPINGS,
    steps: [
      { value: null, color: "green" },
      { value: 1, color: "red" },
    ],
    width: 8,
  });
}

/**
 * Every panel of an SLO's row links the runbooks of the SLO's alerts (the runbook dashboards dashboards/runbooks.ts
 * renders for this SLO, always present whatever runbookBaseUrl says).
 */
export function sloRunbookLinks(m: SloModel): { title: string; url: string }[] {
  return [...new Set(m.alertNames.map((a) => RUNBOOKS[a]))].map((file) => ({
    title: `Runbook: ${m.alertNames.filter((a) => RUNBOOKS[a] === file).join(" / ")} (${m.name})`,
    url: `/d/${runbookUid({ file, slo: m.name })}`,
  }));
}

/** Adds the SLO's runbook links to each panel added through it. */
function withRunbooks(b: dashboard.DashboardBuilder, m: SloModel): { withPanel(p: stat.PanelBuilder | timeseries.PanelBuilder): void } {
  const links = sloRunbookLinks(m).map((l) => new dashboard.DashboardLinkBuilder(l.title).type(dashboard.DashboardLinkType.Link).url(l.url));
  return { withPanel: (p) => void b.withPanel(p.links(links)) };
}

function ratioRow(d: dashboard.DashboardBuilder, m: SloModel): void {
  const b = withRunbooks(d, m);
  d.withRow(new dashboard.RowBuilder(`${m.name} — ${m.kind}: ${pct(m.ratio!.objective)} over ${m.ratio!.window}`));
  const r = m.ratio!;
  const sel = m.seriesSelector;
  const about = `${m.spec.description ? `${m.spec.description}. ` : ""}SLI: ${m.sliDescription}.`;
  const objectiveSteps = [
    { value: null, color: "red" },
    { value: r.objective, color: "green" },
  ];
  b.withPanel(
    statPanel({
      title: `SLI over ${r.window}`,
      description: `${about} Good requests / all requests over the SLO window (${RECORDS.errorRatioWindow}). Red below the objective.`,
      targets: [{ expr: `1 - ${RECORDS.errorRatioWindow}${sel}` }],
      unit: "percentunit",
      decimals: 3,
      steps: objectiveSteps,
      width: 4,
    }),
  );
  b.withPanel(
    statPanel({
      title: "SLI, last 5 minutes",
      description: `${about} Current value (${RECORDS.errorRatio("5m")}); absent while there is no traffic.`,
      targets: [{ expr: `1 - ${RECORDS.errorRatio("5m")}${sel}` }],
      unit: "percentunit",
      decimals: 3,
      steps: objectiveSteps,
      width: 4,
      noValue: "no traffic",
    }),
  );
  b.withPanel(
    statPanel({
      title: "Objective",
      description: `The SLO's target (${RECORDS.objective}).`,
      targets: [{ expr: `${RECORDS.objective}${sel}` }],
      unit: "percentunit",
      decimals: 3,
      steps: [{ value: null, color: "text" }],
      width: 4,
    }),
  );
  b.withPanel(
    statPanel({
      title: `Error budget remaining (${r.window})`,
      description: `1 − (error ratio over ${r.window}) / (1 − objective): 100 % untouched, 0 % spent, below 0 overspent (${RECORDS.budgetRemaining}).`,
      targets: [{ expr: `${RECORDS.budgetRemaining}${sel}` }],
      unit: "percentunit",
      decimals: 1,
      steps: [
        { value: null, color: "red" },
        { value: 0, color: "orange" },
        { value: 0.25, color: "green" },
      ],
      width: 4,
    }),
  );
  b.withPanel(alertsPanel(m));

  // Burn rate = error ratio / error budget, per window the alerts read; each tier's threshold is drawn.
  const windows = [...new Set(r.burnAlerts.flatMap((a) => [a.longWindow, a.shortWindow]))];
  b.withPanel(
    seriesPanel({
      title: "Burn rate per alert window",
      description:
        `Error ratio / error budget (${pct(r.errorBudget)}) over each window the burn-rate alerts read. 1 = the budget lasts exactly ${r.window}. ` +
        r.burnAlerts.map((a) => `${a.alert} (${a.severity}): both ${a.longWindow} and ${a.shortWindow} above ${a.burnRate}×`).join("; ") +
        ".",
      targets: windows.map((w) => ({ expr: `${RECORDS.errorRatio(w)}${sel} / ${r.errorBudget}`, legend: w })),
      unit: "x",
      min: 0,
      lines: [...new Set(r.burnAlerts.map((a) => a.burnRate))].map((v, i) => ({ value: v, color: ["red", "orange", "yellow"][i] ?? "yellow" })),
      width: 12,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: `Error budget remaining (${r.window})`,
      description: `How the budget over the rolling ${r.window} window evolves (${RECORDS.budgetRemaining}). 0 = spent.`,
      targets: [{ expr: `${RECORDS.budgetRemaining}${sel}`, legend: "budget remaining" }],
      unit: "percentunit",
      lines: [{ value: 0, color: "red" }],
      width: 6,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Requests and bad requests",
      description: `Requests/s and bad requests/s over 5 minutes (${RECORDS.requests("5m")}, ${RECORDS.errors("5m")}).`,
      targets: [
        { expr: `${RECORDS.requests("5m")}${sel}`, legend: "requests/s" },
        { expr: `${RECORDS.errors("5m")}${sel}`, legend: "bad/s" },
      ],
      unit: "reqps",
      min: 0,
      width: 6,
    }),
  );
}

function saturationRow(d: dashboard.DashboardBuilder, m: SloModel): void {
  const b = withRunbooks(d, m);
  const s = m.saturation!;
  const sel = m.seriesSelector;
  d.withRow(new dashboard.RowBuilder(`${m.name} — saturation: below ${pct(s.threshold)} (alert after ${s.for})`));
  b.withPanel(
    statPanel({
      title: "Pool saturation now",
      description: `${m.spec.description ? `${m.spec.description}. ` : ""}${m.sliDescription} (${RECORDS.saturation}).`,
      targets: [{ expr: `${RECORDS.saturation}${sel}` }],
      unit: "percentunit",
      decimals: 1,
      steps: [
        { value: null, color: "green" },
        { value: s.threshold, color: "red" },
      ],
      width: 4,
    }),
  );
  b.withPanel(alertsPanel(m));
  b.withPanel(
    seriesPanel({
      title: "Pool saturation",
      description: `${ALERT_NAMES.dbSaturation} fires when this stays above ${pct(s.threshold)} for ${s.for}.`,
      targets: [{ expr: `${RECORDS.saturation}${sel}`, legend: "used / max" }],
      unit: "percentunit",
      min: 0,
      max: 1,
      lines: [{ value: s.threshold }],
      width: 12,
      height: 4,
    }),
  );
}

export function sloDashboard(set: SloModels, links: { title: string; uid: string }[]): dashboard.Dashboard {
  const b = baseDashboard("SLOs and error budget", SLO_DASHBOARD_UID, ["slo"])
    .description("Generated from the stack's `slos` config (docs/dashboards.md). One row per SLO.")
    .time({ from: "now-24h", to: "now" })
    .annotation(alertAnnotation("SLO alerts", `alertname=~"Slo.*"`));
  for (const l of links) b.link(dashboardLink(l.title, l.uid));
  for (const m of set.slos) {
    if (m.ratio) ratioRow(b, m);
    else if (m.saturation) saturationRow(b, m);
  }
  return finish(b);
}
