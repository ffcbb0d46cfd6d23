/**
 * alertmanager.yml: routes alerts by their `severity` label and the receivers' `match` labels (team, service, slo...)
 * to the stack's receivers (config/alert-routing.ts). Every credential is read from
 * a file under SECRETS_DIR (written at boot from SSM); none is ever written into this file.
 */
import type { RoutedSeverity } from "../../config/severities";
import type { AlertReceiver, StackConfig } from "../../config/stack-config";
import { rootReceiver, routeGroups } from "../../config/alert-routing";
import { ALERTING_TIMING, SERVICES } from "../../layout/host-layout";
import { receiverSecretPath } from "../secrets";
import type { HostFile } from "../../layout/host-file";
import { renderTemplate, yamlBlock } from "../templates";
import { configFile } from "../../layout/host-file";

/** Labels one notification groups by: one message per alert and SLO and service, not one per instance. */
export const GROUP_BY = ["alertname", "slo", "service"];

/** Receiver for alerts nobody asked for (the Watchdog when no receiver takes `watchdog`): drops them. */
export const DISCARD_RECEIVER = "discard";

/**
 * A dead man's switch service expects the Watchdog every few minutes and alarms when it stops; the 4h/24h repeat
 * intervals of pages and tickets would make it alarm between repeats.
 */
export const WATCHDOG_REPEAT_INTERVAL = "5m";

const REPEAT_INTERVAL: Record<RoutedSeverity, string> = {
  page: ALERTING_TIMING.repeatIntervalPage,
  ticket: ALERTING_TIMING.repeatIntervalTicket,
  watchdog: WATCHDOG_REPEAT_INTERVAL,
};

type Integration = Record<string, unknown>;

interface ReceiverConfig {
  name: string;
  slack_configs?: Integration[];
  pagerduty_configs?: Integration[];
  email_configs?: Integration[];
  webhook_configs?: Integration[];
}

interface Route {
  receiver: string;
  matchers: string[];
  continue?: boolean;
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  routes?: Route[];
}

interface InhibitRule {
  source_matchers: string[];
  target_matchers: string[];
  equal: string[];
}

export interface AlertmanagerConfigView {
  resolveTimeout: string;
  route: {
    receiver: string;
    group_by: string[];
    group_wait: string;
    group_interval: string;
    repeat_interval: string;
    routes: Route[];
  };
  receivers: ReceiverConfig[];
  inhibitRules: InhibitRule[];
}

function integration(r: AlertReceiver): Partial<ReceiverConfig> {
  // Written at boot from SSM (hostfiles/secrets.ts); the path is fixed even while the value is unknown.
  const secretFile = receiverSecretPath(r.name);
  // Resolved notifications close PagerDuty incidents and tell Slack/email readers the problem went away.
  switch (r.type) {
    case "slack":
      return {
        slack_configs: [
          {
            api_url_file: secretFile,
            channel: r.channel,
            send_resolved: true,
            title: '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}',
            // The labels on-call filters by (severity, service, slo, route) are shown, not only in the fallback text.
            text: "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n{{ range .Labels.SortedPairs }}`{{ .Name }}={{ .Value }}` {{ end }}\nRunbook: {{ .Annotations.runbook_url }}\n{{ end }}",
          },
        ],
      };
    case "pagerduty":
      return { pagerduty_configs: [{ routing_key_file: secretFile, send_resolved: true }] };
    case "email":
      return {
        email_configs: [
          {
            to: r.to,
            from: r.from,
            smarthost: r.smarthost,
            // Port 587 of SES and most relays: STARTTLS is mandatory for credentials.
            require_tls: true,
            ...(r.authUsername ? { auth_username: r.authUsername, auth_password_file: secretFile } : {}),
            send_resolved: true,
          },
        ],
      };
    case "webhook":
      // `url_file` needs Alertmanager >= 0.26 (the host runs a current release).
      return { webhook_configs: [{ url_file: secretFile, send_resolved: true }] };
  }
}

function receiverConfig(r: AlertReceiver): ReceiverConfig {
  return { name: r.name, ...integration(r) };
}

/** An Alertmanager matcher `name="value"` (the value quoted like a Go string, which JSON's quoting is). */
const matcher = (name: string, value: string) => `${name}=${JSON.stringify(value)}`;

export function alertmanagerView(cfg: StackConfig): AlertmanagerConfigView {
  const receivers = cfg.alerting.receivers;
  const routes: Route[] = [];
  // The tree is config/alert-routing.ts' routeGroups, in order: per severity the `match` groups, then the
  // fallback. A group route does not `continue`, so the first group that matches is the only one; its receivers
  // are children that all match (`continue`), so each of them gets the alert.
  const groups = routeGroups(receivers);
  for (const severity of ["page", "ticket", "watchdog"] as const) {
    // The Watchdog goes out at once and keeps coming; the others use the tree's timing.
    const timing = severity === "watchdog" ? { group_wait: "0s", group_interval: "1m" } : {};
    for (const g of groups.filter((x) => x.severity === severity)) {
      const matchers = [matcher("severity", severity), ...Object.entries(g.match).map(([k, v]) => matcher(k, v))];
      const route: Route = { receiver: g.receivers[0], matchers, ...timing, repeat_interval: REPEAT_INTERVAL[severity] };
      if (g.receivers.length > 1) route.routes = g.receivers.map((name) => ({ receiver: name, matchers: [], continue: true }));
      routes.push(route);
    }
    // An unclaimed Watchdog must not reach the root receiver (it fires all the time).
    if (severity === "watchdog" && !groups.some((x) => x.severity === severity)) {
      routes.push({ receiver: DISCARD_RECEIVER, matchers: [matcher("severity", severity)], ...timing, repeat_interval: REPEAT_INTERVAL[severity] });
    }
  }
  // Alerts no route takes (an unknown severity, a severity without a fallback for their labels) reach the root.
  const fallback = rootReceiver(receivers);
  return {
    resolveTimeout: "5m",
    route: {
      receiver: fallback ?? DISCARD_RECEIVER,
      group_by: GROUP_BY,
      group_wait: ALERTING_TIMING.groupWait,
      group_interval: ALERTING_TIMING.groupInterval,
      repeat_interval: ALERTING_TIMING.repeatIntervalTicket,
      routes,
    },
    receivers: [...receivers.map(receiverConfig), { name: DISCARD_RECEIVER }],
    inhibitRules: [
      // A page for an SLO already has someone on it: its ticket (slow burn) is noise. `slo=~".+"` on the source
      // keeps alerts without an slo label (both empty counts as equal) from inhibiting every ticket.
      {
        source_matchers: ['severity="page"', 'slo=~".+"'],
        target_matchers: ['severity="ticket"'],
        equal: ["slo"],
      },
      // An SLO of a service pages: the error lines in that service's logs (its log alerts, which carry `log_alert`)
      // are the same incident. `service` is the SLO's service on both sides (config/log-alert-defaults.ts).
      {
        source_matchers: ['severity="page"', 'slo=~".+"'],
        target_matchers: ['log_alert=~".+"'],
        equal: ["service"],
      },
      // While a target is down, its other alerts (absent data, failing exports, its log alerts) follow from it.
      {
        source_matchers: ['alertname="MonitoringTargetDown"'],
        target_matchers: ['alertname!="MonitoringTargetDown"', 'severity=~"page|ticket"'],
        equal: ["job"],
      },
    ],
  };
}

export function renderAlertmanagerConfig(view: AlertmanagerConfigView): string {
  return renderTemplate("services/alertmanager.yml.hbs", {
    global: yamlBlock({ resolve_timeout: view.resolveTimeout }),
    route: yamlBlock(view.route),
    inhibitRules: yamlBlock(view.inhibitRules),
    receivers: yamlBlock(view.receivers),
  });
}

export function alertmanagerFiles(cfg: StackConfig): HostFile[] {
  return [configFile("alertmanager", SERVICES.alertmanager.config, renderAlertmanagerConfig(alertmanagerView(cfg)), "reload")];
}
