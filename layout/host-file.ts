/** The contract between the pure renderers (stack config in, file contents out) and the Pulumi components. */
import { SERVICES, SERVICE_UNITS, ServiceName } from "./host-layout";

/** One file that goes onto the host. */
export interface HostFile {
  /** Absolute path on the host. `npm run render` writes it to `out/<stack>/<path>`. */
  path: string;
  content: string;
  /** Octal mode, e.g. "0644". */
  mode: string;
  /** `user:group` owning the file on the host. */
  owner: string;
  /**
   * The systemd unit to act on when this file changes on a running host: `reload` (Prometheus, Alertmanager:
   * no restart) or `restart`. Absent: nothing to do (e.g. documentation, the install script itself).
   */
  onChange?: { unit: string; action: "reload" | "restart" };
}

/**
 * Values that exist only once AWS resources do. Under `pulumi up` they are the real ids (resolved with
 * `pulumi.all(...).apply`); the offline render uses `placeholderContext`, whose values are marked as such.
 */
export interface HostContext {
  /** Buckets (names) for Loki, Tempo and the host's config bundle. */
  lokiBucket: string;
  tempoBucket: string;
  configBucket: string;
  /** S3 key of the config bundle in `configBucket`. */
  configObjectKey: string;
  /** EBS volume id of the data volume (vol-…), to find its device by id on Nitro instances. */
  dataVolumeId: string;
  /** Stable private IP of the host's network interface (the OTLP endpoint applications use). */
  privateIp: string;
  /** PEM of the CA that signed the OTLP server certificate, and the server certificate itself (public). */
  otlpCaCertPem: string;
  otlpServerCertPem: string;
  /** The per-application client CAs (concatenated PEM) the OTLP receivers verify senders against. */
  otlpClientCaPem: string;
  /**
   * Version of each secret's SSM parameter, by SecretFile id (hostfiles/secrets.ts). A rotated secret changes the
   * bundle, so the host fetches that exact version and restarts only the unit that reads it. Unknown offline.
   */
  secretVersions?: Record<string, number>;
  /**
   * With `remoteWrite`: the AMP workspace's Prometheus endpoint (`https://aps-workspaces.<region>.amazonaws.com/
   * workspaces/<id>/`). Known offline for an existing workspace; a created one's exists only under `pulumi up`.
   */
  ampWorkspaceUrl?: string;
  /**
   * One host of an HA pair (docs/ha-pair.md): its index (the `__replica__` label), its own private IP and the other
   * host's. Absent on a single host, whose files stay as they are.
   */
  pair?: HostPair;
}

export interface HostPair {
  index: number;
  selfIp: string;
  peerIp: string;
}

/** Context for rendering without AWS: every value says it is a placeholder. */
export function placeholderContext(stack: string): HostContext {
  return {
    lokiBucket: `placeholder-${stack}-loki-bucket`,
    tempoBucket: `placeholder-${stack}-tempo-bucket`,
    configBucket: `placeholder-${stack}-config-bucket`,
    configObjectKey: `hosts/${stack}/bundle.json`,
    dataVolumeId: "vol-00000000000000000",
    privateIp: "10.0.0.10",
    otlpCaCertPem: "-----BEGIN CERTIFICATE-----\nPLACEHOLDER (created by pulumi up)\n-----END CERTIFICATE-----\n",
    otlpServerCertPem: "-----BEGIN CERTIFICATE-----\nPLACEHOLDER (created by pulumi up)\n-----END CERTIFICATE-----\n",
    otlpClientCaPem: "-----BEGIN CERTIFICATE-----\nPLACEHOLDER (per-application client CAs, created by pulumi up)\n-----END CERTIFICATE-----\n",
  };
}

/**
 * A config file readable by the service (group) but writable only by root: a compromised service cannot rewrite
 * its own configuration.
 */
export function configFile(
  service: Exclude<ServiceName, "nodeExporter">,
  filePath: string,
  content: string,
  action: "reload" | "restart",
): HostFile {
  return {
    path: filePath,
    content: content.endsWith("\n") ? content : `${content}\n`,
    mode: "0640",
    owner: `root:${SERVICES[service].user}`,
    onChange: { unit: SERVICE_UNITS[service], action },
  };
}
