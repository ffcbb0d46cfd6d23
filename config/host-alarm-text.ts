/**
 * What the EC2-level host alarms say, as pure functions: HostAlarms puts the text on the alarms and the config
 * loader checks its length against CloudWatch's limit before anything is created.
 */
import type { StackConfig } from "./stack-config";

/** PutMetricAlarm: AlarmDescription is at most 1024 characters (CloudWatch API reference). */
export const ALARM_DESCRIPTION_MAX_CHARS = 1024;

export type StatusCheck = "System" | "Instance";

/** The EC2 action of each status-check alarm and what it does, in words. */
export const STATUS_CHECK_ACTIONS: Record<StatusCheck, { action: "recover" | "reboot"; what: string }> = {
  System: { action: "recover", what: "recovering it onto healthy hardware" },
  Instance: { action: "reboot", what: "rebooting it" },
};

/**
 * Without runbookBaseUrl the runbooks are served by the host's Grafana, which is down with the host: the alarm names
 * the runbook in the repository instead of a link that cannot open.
 */
export const HOST_DOWN_RUNBOOK = "docs/runbooks/monitoring-host-down.md of the monitoring-hosts repository (the host's Grafana is down with it)";

export function hostAlarmDescription(cfg: Pick<StackConfig, "project" | "stack" | "runbookBaseUrl">, check: StatusCheck): string {
  return (
    `${cfg.project}/${cfg.stack} monitoring host failed its EC2 ${check.toLowerCase()} status check: ` +
    `${STATUS_CHECK_ACTIONS[check].what}. Runbook: ${cfg.runbookBaseUrl ? `${cfg.runbookBaseUrl}/monitoring-host-down.md` : HOST_DOWN_RUNBOOK}`
  );
}
