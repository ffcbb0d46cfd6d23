/**
 * "Database saturation": one row per saturation SLO: connections used/idle/max per pool, pending requests and
 * timeouts where the convention has them, and the pool saturation (the SLO's recorded series) with the alert
 * threshold drawn.
 */
import * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import type { MetricConvention } from "../config/slo-spec";
import { ALERT_NAMES } from "../config/slo-alerts";
import { RECORDS } from "../rules/slo-conventions";
import type { SloModel } from "../rules/slo-model";
import { baseDashboard, dashboardLink, finish, seriesPanel } from "./common";
import { stableUid } from "../layout/dashboard-uid";
import { q } from "../rules/promql";

export const DB_DASHBOARD_UID = stableUid("database-saturation");

/**
 * Pool metric names per convention. `used`, `max` and the labels are the ones rules/slo-conventions.ts `saturationExpr` reads
 * (a test checks they agree); pending/timeouts are the OpenTelemetry semantic-convention instruments next to them.
 */
export interface PoolMetricNames {
  used: string;
  max: string;
  state?: string;
  pool?: string;
  idleState?: string;
  usedState?: string;
  pending?: string;
  timeouts?: string;
}

export const POOL_METRICS: Record<MetricConvention, PoolMetricNames> = {
  otel: {
    used: "db_client_connection_count",
    max: "db_client_connection_max",
    state: "db_client_connection_state",
    pool: "db_client_connection_pool_name",
    usedState: "used",
    idleState: "idle",
    pending: "db_client_connection_pending_requests",
    timeouts: "db_client_connection_timeouts_total",
  },
  "otel-legacy": {
    used: "db_client_connections_usage",
    max: "db_client_connections_max",
    state: "state",
    pool: "pool_name",
    usedState: "used",
    idleState: "idle",
    pending: "db_client_connections_pending_requests",
    timeouts: "db_client_connections_timeouts_total",
  },
  // postgres_exporter: connections per state of the server, and its max_connections setting.
  "postgres-exporter": {
    used: "pg_stat_activity_count",
    max: "pg_settings_max_connections",
    state: "state",
  },
};

function row(b: dashboard.DashboardBuilder, m: SloModel): void {
  const s = m.saturation!;
  const names = POOL_METRICS[m.spec.metrics];
  const job = `job=${q(m.spec.selector.job ?? m.service)}`;
  const poolSel = names.pool && m.spec.selector.pool ? `, ${names.pool}=${q(m.spec.selector.pool)}` : "";
  const sel = `${job}${poolSel}`;
  const group = names.pool ? `instance, ${names.pool}` : "instance";
  const legend = names.pool ? `{{${names.pool}}} {{instance}}` : "{{instance}}";
  b.withRow(new dashboard.RowBuilder(`${m.service} — ${m.name}`));

  const conn =
    names.usedState && names.idleState
      ? [
          { expr: `sum by (${group}) (${names.used}{${sel}, ${names.state}=${q(names.usedState)}})`, legend: `used ${legend}` },
          { expr: `sum by (${group}) (${names.used}{${sel}, ${names.state}=${q(names.idleState)}})`, legend: `idle ${legend}` },
          { expr: `sum by (${group}) (${names.max}{${sel}})`, legend: `max ${legend}` },
        ]
      : [
          { expr: `sum by (instance, ${names.state}) (${names.used}{${sel}})`, legend: `{{${names.state}}} {{instance}}` },
          { expr: `max by (instance) (${names.max}{${sel}})`, legend: "max_connections {{instance}}" },
        ];
  b.withPanel(
    seriesPanel({
      title: "Connections: used / idle / max",
      description: `Connection pool of ${m.service} (${names.used}, ${names.max}).`,
      targets: conn,
      unit: "short",
      min: 0,
      width: 8,
    }),
  );
  b.withPanel(
    seriesPanel({
      title: "Pool saturation",
      description: `${m.sliDescription} (${RECORDS.saturation}). ${ALERT_NAMES.dbSaturation} fires above ${+(s.threshold * 100).toFixed(2)} % for ${s.for}.`,
      targets: [{ expr: `${RECORDS.saturation}${m.seriesSelector}`, legend: "used / max (busiest pool)" }],
      unit: "percentunit",
      min: 0,
      max: 1,
      lines: [{ value: s.threshold }],
      width: 8,
    }),
  );
  if (names.pending && names.timeouts) {
    b.withPanel(
      seriesPanel({
        title: "Pending requests and timeouts",
        description:
          `Requests waiting for a connection (${names.pending}) and connection timeouts per second (${names.timeouts}). ` +
          "Only instrumentations that export these show them.",
        targets: [
          { expr: `sum by (${group}) (${names.pending}{${sel}})`, legend: `pending ${legend}` },
          { expr: `sum by (${group}) (rate(${names.timeouts}{${sel}}[$__rate_interval]))`, legend: `timeouts/s ${legend}` },
        ],
        unit: "short",
        min: 0,
        width: 8,
      }).noValue("not exported by this service"),
    );
  }
}

export function databaseDashboard(slos: SloModel[], links: { title: string; uid: string }[]): dashboard.Dashboard | undefined {
  const saturation = slos.filter((m) => m.saturation);
  if (saturation.length === 0) return undefined;
  const b = baseDashboard("Database saturation", DB_DASHBOARD_UID, ["slo", "database"]).description(
    "Generated from the saturation SLOs of the stack's `slos` config (docs/dashboards.md).",
  );
  for (const l of links) b.link(dashboardLink(l.title, l.uid));
  for (const m of saturation) row(b, m);
  return finish(b);
}
