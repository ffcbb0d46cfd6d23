/**
 * Which alerts an SLO raises, by name and labels: the convention the rule generator (rules/slo-model.ts) builds its
 * alerts on and the routing check (config/alert-routing.ts) proves against, so the label sets the config loader
 * validates are the ones Prometheus sends. How each alert fires (burn math, PromQL, annotations) is rules/' part.
 */
import type { AlertSeverity } from "./severities";
import type { HealthSignal, SloSpec } from "./slo-spec";

/**
 * The burn-rate tiers (docs/slos.md explains the choice). Each pairs a long window (is the budget really burning?)
 * with a short one (is it still burning? lets the alert clear soon after recovery).
 *
 * The bad-ratio threshold of a tier is `min(burnRate × (1 − objective), maxBadRatio)`. The cap is what the fixed
 * SRE Workbook factors lack: with a 95 % objective a 14.4× burn needs 72 % of requests to be bad before it pages,
 * so a complete latency regression took 43 minutes to page. Capped, "15 % of requests bad for a while" pages
 * whatever the objective, while tight objectives (99.9 %) keep their budget-based thresholds.
 */
export interface BurnTier {
  id: "fast" | "slow" | "ticket";
  /** The alert's name (the same for every SLO; the `slo` label tells them apart). */
  alert: string;
  /** Severity before per-SLO overrides. */
  defaultSeverity: AlertSeverity;
  long: string;
  short: string;
  burnRate: number;
  maxBadRatio: number;
  for: string;
  /**
   * `keep_firing_for` (Prometheus ≥ 2.42): rides out short dips of the short window below the threshold, so a page
   * does not resolve and re-fire on noise. Adds to the clearing time after recovery.
   */
  keepFiringFor: string;
  /**
   * Page tiers: while the alert fires and the failure keeps coming back, it stays open (docs/slos.md, "Intermittent
   * failures"). `within`: where two separate crossings of the short window make a failure intermittent (twice
   * `holdFor`, so a blip long before an outage does not count); `holdFor`: how long after the short window was last
   * above the threshold an intermittent failure still counts as ongoing.
   */
  recurring?: { within: string; holdFor: string };
}

export const BURN_TIERS: readonly BurnTier[] = [
  // 8× over 30 min: a full outage of a 99 % SLO crosses 8 % after 2.4 min, a 2-minute blip peaks at 6.7 % and
  // does not page. The 5m short window makes the page clear about 5 minutes after recovery.
  { id: "fast", alert: "SloBurnRateFast", defaultSeverity: "page", long: "30m", short: "5m", burnRate: 8, maxBadRatio: 0.15, for: "1m", keepFiringFor: "3m", recurring: { within: "20m", holdFor: "10m" } },
  // 5× over 6 h (≈ 4 % of a 30-day budget): catches 5-15 % error rates within hours. The 20m short window (not the
  // Workbook's 30m) lets it clear within 20 minutes of recovery.
  { id: "slow", alert: "SloBurnRateSlow", defaultSeverity: "page", long: "6h", short: "20m", burnRate: 5, maxBadRatio: 0.15, for: "5m", keepFiringFor: "5m", recurring: { within: "80m", holdFor: "40m" } },
  // 1× over 3 days: the budget will be gone by the end of the window at this pace; a ticket, not a page.
  { id: "ticket", alert: "SloBurnRateTicket", defaultSeverity: "ticket", long: "3d", short: "6h", burnRate: 1, maxBadRatio: 1, for: "15m", keepFiringFor: "30m" },
];

/** Alert names beyond the burn-rate tiers. */
export const ALERT_NAMES = {
  metricsMissing: "SloMetricsMissing",
  serviceDown: "SloServiceDown",
  dbSaturation: "SloDbSaturationHigh",
} as const;

/** Labels on every recorded series and alert of an SLO (`slo`, `service`, `sli_kind`, `route`, `method`). */
export function sloLabels(spec: SloSpec): Record<string, string> {
  return {
    slo: spec.name,
    service: spec.service,
    sli_kind: spec.kind,
    ...(spec.selector.route !== undefined ? { route: spec.selector.route } : {}),
    ...(spec.selector.method !== undefined ? { method: spec.selector.method } : {}),
  };
}

/** An alert's labels: `severity` (what Alertmanager routes on) and the rest. */
export type SloAlertLabels = Record<string, string> & { severity: AlertSeverity };

/** One alert of an SLO: what it is (a burn-rate tier, the saturation alert, the missing-metrics alert), its name and labels. */
export type SloAlertName =
  | { of: "burn"; tier: BurnTier; alert: string; labels: SloAlertLabels }
  | { of: "saturation" | "metrics-missing"; alert: string; labels: SloAlertLabels };

/**
 * The alerts of one SLO in rule order. The alerts read the recorded series, so they carry the same labels
 * (sli_kind included) plus severity; the SLO's routing labels (`alerting.labels`) come last.
 */
export function sloAlertNames(spec: SloSpec): SloAlertName[] {
  const labels = (severity: AlertSeverity, extra: Record<string, string> = {}): SloAlertLabels => ({ severity, ...sloLabels(spec), ...extra, ...spec.alerting.labels });
  const missing = { of: "metrics-missing" as const, alert: ALERT_NAMES.metricsMissing, labels: labels(spec.alerting.ticketSeverity) };
  if (spec.kind === "saturation") {
    return [{ of: "saturation", alert: ALERT_NAMES.dbSaturation, labels: labels(spec.alerting.saturationSeverity) }, missing];
  }
  return [
    ...BURN_TIERS.map((tier) => ({
      of: "burn" as const,
      tier,
      alert: tier.alert,
      labels: labels(tier.defaultSeverity === "page" ? spec.alerting.pageSeverity : spec.alerting.ticketSeverity, { window: `${tier.long}/${tier.short}` }),
    })),
    missing,
  ];
}

/** A service with SLOs: how its being down is detected, and its one service-down alert (none for health `none`). */
export interface SloService {
  service: string;
  health: HealthSignal;
  /** Names of the SLOs of this service. */
  slos: string[];
  alert?: { alert: string; labels: SloAlertLabels };
}

/** The services of an SLO list, in order of first mention; `scrapedServices` (appScrapeTargets) default to `up`. */
export function sloServices(specs: SloSpec[], scrapedServices: string[]): SloService[] {
  const services = [...new Set(specs.map((s) => s.service))];
  return services.map((service) => {
    const ofService = specs.filter((s) => s.service === service);
    const explicit = ofService.map((s) => s.health).find((h) => h !== undefined);
    const health: HealthSignal = explicit ?? (scrapedServices.includes(service) ? "up" : "target_info");
    const slos = ofService.map((s) => s.name);
    if (health === "none") return { service, health, slos };
    const severity: AlertSeverity = ofService.some((s) => s.alerting.pageSeverity === "page") ? "page" : "ticket";
    const extra = Object.assign({}, ...ofService.map((s) => s.alerting.labels)) as Record<string, string>;
    return { service, health, slos, alert: { alert: ALERT_NAMES.serviceDown, labels: { severity, slo: slos.join(","), service, ...extra } } };
  });
}
