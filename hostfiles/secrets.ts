/**
 * The secrets a host needs, where they live in SSM Parameter Store and where the host writes them.
 *
 * Pulumi creates one SecureString parameter per entry (components/host-secrets.ts); at boot, and before the
 * services start, the unprivileged `monitoring-secrets.service` reads them with the instance role into files under
 * SECRETS_DIR (tmpfs, readable by nobody else). systemd hands each service only its own secrets with
 * `LoadCredential=`, at `/run/credentials/<unit>/<name>` (`path`): that is the path service configs reference.
 * Their values never appear in user data, in the config bundle or in stack outputs.
 */
import type { StackConfig } from "../config/stack-config";
import { SECRETS_DIR, SERVICE_UNITS, SERVICES } from "../layout/host-layout";

export interface SecretFile {
  /** Stable id, used for Pulumi resource names. */
  id: string;
  /** SSM parameter name. */
  parameter: string;
  /** Where the service reads it: `/run/credentials/<unit>/<credential>` (systemd `LoadCredential=`). */
  path: string;
  /** The service user that gets it (through its unit's credential, mode 0400). */
  owner: string;
  /** The unit that loads it, and the credential name in that unit. */
  unit: string;
  credential: string;
  /** File the secrets unit writes (tmpfs under SECRETS_DIR, owned by the secrets unit's user only). */
  sourcePath: string;
}

/** Path of a credential inside its unit's credentials directory. */
export function credentialPath(unit: string, credential: string): string {
  return `/run/credentials/${unit}/${credential}`;
}

/** Every SSM parameter of a stack lives below this prefix; the instance role may read exactly these. */
export function secretParameterPrefix(cfg: Pick<StackConfig, "project" | "stack">): string {
  return `/${cfg.project}/${cfg.stack}`;
}

/** Stable ids of the host's secrets (Pulumi resource names, and how configs find their secret's path). */
export const SECRET_IDS = {
  grafanaAdminPassword: "grafana-admin-password",
  otlpTlsKey: "otlp-tls-key",
  receiver: (receiverName: string) => `receiver-${receiverName}`,
} as const;

/** Which parameters exist: one per secret the host reads (the receivers' only for those that have one). */
export function secretFiles(cfg: Pick<StackConfig, "project" | "stack"> & { alerting: { receivers: readonly { name: string; secret?: unknown }[] } }): SecretFile[] {
  const prefix = secretParameterPrefix(cfg);
  const entry = (id: string, parameter: string, service: "grafana" | "otelcol" | "alertmanager", credential: string): SecretFile => ({
    id,
    parameter,
    path: credentialPath(SERVICE_UNITS[service], credential),
    owner: SERVICES[service].user,
    unit: SERVICE_UNITS[service],
    credential,
    sourcePath: `${SECRETS_DIR}/${service}/${credential}`,
  });
  const files: SecretFile[] = [
    entry(SECRET_IDS.grafanaAdminPassword, `${prefix}/grafana/admin-password`, "grafana", "admin-password"),
    entry(SECRET_IDS.otlpTlsKey, `${prefix}/otelcol/otlp-server-key`, "otelcol", "otlp-server.key"),
  ];
  for (const r of cfg.alerting.receivers) {
    if (!r.secret) continue;
    files.push(entry(SECRET_IDS.receiver(r.name), `${prefix}/alertmanager/receivers/${r.name}`, "alertmanager", receiverCredential(r.name)));
  }
  return files;
}

function receiverCredential(receiverName: string): string {
  return `receiver-${receiverName}`;
}

/** File holding a receiver's secret (Slack URL, PagerDuty key, webhook URL, SMTP password), as Alertmanager reads it. */
export function receiverSecretPath(receiverName: string): string {
  return credentialPath(SERVICE_UNITS.alertmanager, receiverCredential(receiverName));
}
