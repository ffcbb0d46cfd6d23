/**
 * Alert severities. Every alert rule carries `page` or `ticket` (SLO alerts, log alerts, the host's meta-alerts);
 * receivers may also take `watchdog`, the severity of the always-firing dead-man's-switch alert.
 */
export const ALERT_SEVERITIES = ["page", "ticket"] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
/** What `alertReceivers[].severities` may list and Alertmanager routes on. */
export const ROUTED_SEVERITIES = [...ALERT_SEVERITIES, "watchdog"] as const;
export type RoutedSeverity = (typeof ROUTED_SEVERITIES)[number];
