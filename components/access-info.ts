/**
 * How on-call reaches a host: the ssh config block, the ssh command and the tunnels to the UIs, ready to paste.
 * Pure functions of config and ids, exported as stack outputs.
 */
import type { StackConfig } from "../config/stack-config";
import { SERVICES } from "../layout/host-layout";

export interface AccessIds {
  instanceId: string;
  privateIp: string;
  /** A pair's host 1 (absent or 0: the first host). */
  host?: number;
}

/** The ssh host alias of a stack's host, e.g. `monitoring-hosts-dev`, and `monitoring-hosts-dev-1` for a pair's second. */
export function sshAlias(cfg: Pick<StackConfig, "project" | "stack">, host = 0): string {
  return host === 0 ? `${cfg.project}-${cfg.stack}` : `${cfg.project}-${cfg.stack}-${host}`;
}

/** The `~/.ssh/config` block: through SSM Session Manager (default) or directly to the private IP. */
export function sshConfigBlock(cfg: StackConfig, ids: AccessIds): string {
  const lines = [`Host ${sshAlias(cfg, ids.host)}`];
  if (cfg.access.mode === "ssm") {
    lines.push(
      `  HostName ${ids.instanceId}`,
      `  User ${cfg.access.sshUser}`,
      `  ProxyCommand sh -c "aws ssm start-session --region ${cfg.region} --target %h --document-name AWS-StartSSHSession --parameters 'portNumber=%p'"`,
    );
  } else {
    lines.push(`  HostName ${ids.privateIp}`, `  User ${cfg.access.sshUser}`);
  }
  lines.push("  ServerAliveInterval 30");
  return lines.join("\n") + "\n";
}

/** One command that works without editing ~/.ssh/config. */
export function sshCommand(cfg: StackConfig, ids: AccessIds): string {
  if (cfg.access.mode === "ssm") {
    return (
      `ssh -o ProxyCommand="aws ssm start-session --region ${cfg.region} --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p" ` +
      `${cfg.access.sshUser}@${ids.instanceId}`
    );
  }
  return `ssh ${cfg.access.sshUser}@${ids.privateIp}`;
}

/** Local-port tunnels to the UIs, which listen on 127.0.0.1 on the host. */
export function tunnelCommands(cfg: StackConfig, ids: AccessIds): Record<string, string> {
  const uis = {
    grafana: SERVICES.grafana.ports.http,
    prometheus: SERVICES.prometheus.ports.http,
    alertmanager: SERVICES.alertmanager.ports.http,
  };
  return Object.fromEntries(
    Object.entries(uis).map(([ui, port]) => [
      ui,
      cfg.access.mode === "ssm"
        ? `aws ssm start-session --region ${cfg.region} --target ${ids.instanceId} --document-name AWS-StartPortForwardingSession --parameters 'portNumber=${port},localPortNumber=${port}'`
        : `ssh -N -L ${port}:127.0.0.1:${port} ${cfg.access.sshUser}@${ids.privateIp}`,
    ]),
  );
}
