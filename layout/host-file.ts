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

/*
 * Values that exist only once AWS resources do, split by the one renderer that reads them. Under `pulumi up` they
 * are the real ids (resolved with `pulumi.all(...).apply` in components/monitoring-stack.ts); the offline render
 * uses the placeholder contexts below, whose values are marked as such.
 */

/** What the host's files in the config bundle (hostfiles/bundle.ts) need from AWS. */
export interface BundleContext {
  /** Buckets (names) Loki and Tempo store their chunks and blocks in. */
  lokiBucket: string;
  tempoBucket: string;
  /** PEM of the OTLP server certificate (public), and the per-application client CAs (concatenated PEM) the OTLP receivers verify senders against. */
  otlpServerCertPem: string;
  otlpClientCaPem: string;
  /**
   * The stack's automation ssh public key (components/automation-key.ts), authorised next to the on-call engineers'
   * keys (hostfiles/ssh-access.ts). Absent offline: the key exists only under `pulumi up`.
   */
  automationPublicKey?: string;
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

/**
 * What user data (hostfiles/user-data.ts) needs: where the bundle is and which volume holds the data. None of it
 * changes with the host's configuration, so a config change never stops or replaces the instance.
 */
export interface UserDataContext {
  /** Bucket (name) and S3 key of the config bundle. */
  configBucket: string;
  configObjectKey: string;
  /** EBS volume id of the data volume (vol-…), to find its device by id on Nitro instances. */
  dataVolumeId: string;
}

export interface HostPair {
  index: number;
  selfIp: string;
  peerIp: string;
}

/** Bundle context for rendering without AWS: every value says it is a placeholder. */
export function placeholderBundleContext(stack: string): BundleContext {
  return {
    lokiBucket: `placeholder-${stack}-loki-bucket`,
    tempoBucket: `placeholder-${stack}-tempo-bucket`,
    otlpServerCertPem: "-----BEGIN CERTIFICATE-----\nPLACEHOLDER (created by pulumi up)\n-----END CERTIFICATE-----\n",
    otlpClientCaPem: "-----BEGIN CERTIFICATE-----\nPLACEHOLDER (per-application client CAs, created by pulumi up)\n-----END CERTIFICATE-----\n",
  };
}

/**
 * S3 key of a host's bundle (host 1 is a pair's second host). User data names this key, so it never changes with
 * the bundle's content.
 */
export function bundleObjectKey(stack: string, host = 0): string {
  return host === 0 ? `hosts/${stack}/bundle.json` : `hosts/${stack}/${host}/bundle.json`;
}

/** Placeholder addresses of an HA pair's two network interfaces (created by `pulumi up`). */
export const PLACEHOLDER_PAIR_IPS = ["10.0.0.10", "10.0.0.11"] as const;

/** A pair host's side without AWS (docs/ha-pair.md): its own placeholder address and the other host's. */
export function placeholderPair(index: number): HostPair {
  return { index, selfIp: PLACEHOLDER_PAIR_IPS[index], peerIp: PLACEHOLDER_PAIR_IPS[1 - index] };
}

/** User-data context for rendering without AWS: every value says it is a placeholder. */
export function placeholderUserDataContext(stack: string, host = 0): UserDataContext {
  return {
    configBucket: `placeholder-${stack}-config-bucket`,
    configObjectKey: bundleObjectKey(stack, host),
    dataVolumeId: "vol-00000000000000000",
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
