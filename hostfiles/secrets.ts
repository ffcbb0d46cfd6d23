/**
 * The secrets a host needs, where they live in SSM Parameter Store and where the host writes them.
 *
 * Pulumi creates one SecureString parameter per entry (components/host-secrets.ts); at boot, and before the
 * services start, the host reads them with its instance role into files under SECRETS_DIR (tmpfs), owned by the
 * one service that reads them. Their values never appear in user data, in the config bundle or in stack outputs.
 */
import type { StackConfig } from "../components/config";
import { SECRETS_DIR, SERVICES } from "./layout";

export interface SecretFile {
  /** Stable id, used for Pulumi resource names. */
  id: string;
  /** SSM parameter name. */
  parameter: string;
  /** File written on the host. */
  path: string;
  /** Owner of the file (the service user), mode 0400. */
  owner: string;
}

/** Every SSM parameter of a stack lives below this prefix; the instance role may read exactly these. */
export function secretParameterPrefix(cfg: Pick<StackConfig, "project" | "stack">): string {
  return `/${cfg.project}/${cfg.stack}`;
}

export function secretFiles(cfg: StackConfig): SecretFile[] {
  const prefix = secretParameterPrefix(cfg);
  const files: SecretFile[] = [
    {
      id: "grafana-admin-password",
      parameter: `${prefix}/grafana/admin-password`,
      path: `${SECRETS_DIR}/grafana/admin-password`,
      owner: SERVICES.grafana.user,
    },
    {
      id: "otlp-tls-key",
      parameter: `${prefix}/otelcol/otlp-server-key`,
      path: `${SECRETS_DIR}/otelcol/otlp-server.key`,
      owner: SERVICES.otelcol.user,
    },
  ];
  for (const r of cfg.alerting.receivers) {
    if (!r.secret) continue;
    files.push({
      id: `receiver-${r.name}`,
      parameter: `${prefix}/alertmanager/receivers/${r.name}`,
      path: receiverSecretPath(r.name),
      owner: SERVICES.alertmanager.user,
    });
  }
  return files;
}

/** File holding a receiver's secret (Slack URL, PagerDuty key, webhook URL, SMTP password). */
export function receiverSecretPath(receiverName: string): string {
  return `${SECRETS_DIR}/alertmanager/${receiverName}`;
}
