import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/stack-config";
import { sshAlias, sshCommand, sshConfigBlock, tunnelCommands } from "./access-info";
import { AmpWorkspace } from "./amp-workspace";
import { AutomationKey } from "./automation-key";
import { DataVolume } from "./data-volume";
import { DataVolumeBackups } from "./data-volume-backups";
import { DeployVerification } from "./deploy-verification";
import { HostAlarms } from "./host-alarms";
import { HostConfigBundle, bundleObjectKey } from "./host-config-bundle";
import { HostIdentity } from "./host-identity";
import { HostSecrets } from "./host-secrets";
import { MonitoringHost } from "./monitoring-host";
import { MonitoringNetwork } from "./network";
import { OtlpTls } from "./otlp-tls";
import { TelemetryBuckets } from "./telemetry-buckets";
import { SERVICES } from "../layout/host-layout";
import { renderBundle } from "../hostfiles/bundle";
import { renderUserData } from "../hostfiles/user-data";
import { secretParameterPrefix } from "../hostfiles/secrets";
import type { HostContext } from "../layout/host-file";

export interface MonitoringStackArgs {
  config: StackConfig;
}

/**
 * One environment's monitoring host and everything it needs: network, telemetry buckets, data volume, identity,
 * secrets, TLS, the config bundle and the instance. Resources are created in the order the host needs them at
 * boot: the bundle and the secrets exist before the instance starts.
 */
export class MonitoringStack extends pulumi.ComponentResource {
  readonly instanceId: pulumi.Output<string>;
  readonly privateIp: pulumi.Output<string>;
  readonly dataVolumeId: pulumi.Output<string>;
  readonly lokiBucket: pulumi.Output<string>;
  readonly tempoBucket: pulumi.Output<string>;
  readonly configBucket: pulumi.Output<string>;
  readonly securityGroupId: pulumi.Output<string>;
  readonly otlpCaCertificate: pulumi.Output<string>;
  /** Per OTLP sender: the SSM parameters of its client certificate, private key and the server CA (names only). */
  readonly otlpClientCredentials: Record<string, { certificate: string; privateKey: string; serverCa: string }>;
  readonly otlpEndpoints: pulumi.Output<{ grpc: string; http: string }>;
  readonly sshConfig: pulumi.Output<string>;
  readonly sshCommand: pulumi.Output<string>;
  readonly tunnels: pulumi.Output<Record<string, string>>;
  /** Secret output: the stack's automation ssh key. */
  readonly automationPrivateKey: pulumi.Output<string>;
  /** The child components, for composition by later features (deploy checks, backups) and for tests. */
  readonly parts: {
    network: MonitoringNetwork;
    buckets: TelemetryBuckets;
    dataVolume: DataVolume;
    bundle: HostConfigBundle;
    identity: HostIdentity;
    host: MonitoringHost;
    backups: DataVolumeBackups;
    alarms: HostAlarms;
    verification?: DeployVerification;
    amp?: AmpWorkspace;
  };

  constructor(name: string, args: MonitoringStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:index:MonitoringStack", name, {}, opts);
    const cfg = args.config;
    const child = { parent: this };

    const network = new MonitoringNetwork(`${name}-net`, { config: cfg }, child);
    const buckets = new TelemetryBuckets(`${name}-telemetry`, { config: cfg }, child);
    const dataVolume = new DataVolume(`${name}-data`, { config: cfg }, child);
    const tls = new OtlpTls(`${name}-otlp`, { config: cfg, privateIp: network.privateIp }, child);
    const automationKey = new AutomationKey(`${name}-automation`, {}, child);

    // Remote write to AMP (`remoteWrite`): the workspace is needed by the host's policy and its prometheus.yml.
    const amp = cfg.remoteWrite ? new AmpWorkspace(`${name}-amp`, { config: { ...cfg, remoteWrite: cfg.remoteWrite } }, child) : undefined;

    const secrets = new HostSecrets(`${name}-secrets`, { config: cfg, otlpServerKeyPem: tls.serverKeyPem }, child);

    const certificates = pulumi.all([tls.caCertPem, tls.serverCertPem, tls.clientCaBundlePem]);
    const context = (configBucket: pulumi.Input<string>): pulumi.Output<HostContext> =>
      pulumi
        .all([buckets.loki.name, buckets.tempo.name, configBucket, dataVolume.volumeId, network.privateIp, certificates, secrets.versions, amp?.prometheusEndpoint])
        .apply(([lokiBucket, tempoBucket, bucket, dataVolumeId, privateIp, [otlpCaCertPem, otlpServerCertPem, otlpClientCaPem], secretVersions, ampWorkspaceUrl]) => ({
          lokiBucket,
          tempoBucket,
          configBucket: bucket,
          configObjectKey: bundleObjectKey(cfg),
          dataVolumeId,
          privateIp,
          otlpCaCertPem,
          otlpServerCertPem,
          otlpClientCaPem,
          secretVersions,
          ...(ampWorkspaceUrl ? { ampWorkspaceUrl } : {}),
        }));

    // The host's view of the config: the automation key is authorised next to the on-call engineers' keys (public
    // keys only; they travel in the bundle, so rotating one never touches user data).
    const withAutomationKey = (key: string): StackConfig => ({
      ...cfg,
      access: { ...cfg.access, authorizedKeys: [...cfg.access.authorizedKeys, key] },
    });
    const bundle = new HostConfigBundle(
      `${name}-config`,
      {
        config: cfg,
        render: (bucketName) =>
          pulumi.all([automationKey.publicKeyOpenssh, context(bucketName)]).apply(([key, ctx]) => renderBundle(withAutomationKey(key), ctx)),
      },
      child,
    );
    const identity = new HostIdentity(
      `${name}-host`,
      {
        config: cfg,
        telemetryBucketArns: [buckets.loki.arn, buckets.tempo.arn],
        configBucketArn: bundle.bucket.arn,
        configObjectKey: bundle.objectKey,
        secretParameterPrefix: secretParameterPrefix(cfg),
        ...(amp ? { ampWorkspaceArn: amp.arn } : {}),
      },
      child,
    );

    const userData = context(bundle.bucket.name).apply((ctx) => renderUserData(cfg, ctx));

    const host = new MonitoringHost(
      `${name}-host`,
      {
        config: cfg,
        networkInterfaceId: network.networkInterface.id,
        instanceProfileName: identity.instanceProfile.name,
        dataVolumeId: dataVolume.volumeId,
        userData,
        bootDependencies: [bundle, secrets],
      },
      child,
    );

    const backups = new DataVolumeBackups(`${name}-backups`, { config: cfg }, child);
    const alarms = new HostAlarms(`${name}-alarms`, { config: cfg, instanceId: host.instanceId }, child);

    const verification = cfg.operations.verifyDeploy
      ? new DeployVerification(
          `${name}-verify`,
          {
            config: cfg,
            instanceId: host.instanceId,
            privateIp: network.privateIp,
            bundleEtag: bundle.object.etag,
            automationPrivateKey: automationKey.privateKeyOpenssh,
            dependsOn: [host.attachment, bundle],
          },
          child,
        )
      : undefined;

    this.parts = { network, buckets, dataVolume, bundle, identity, host, backups, alarms, verification, amp };
    this.instanceId = host.instanceId;
    this.privateIp = network.privateIp;
    this.dataVolumeId = dataVolume.volumeId;
    this.lokiBucket = buckets.loki.name;
    this.tempoBucket = buckets.tempo.name;
    this.configBucket = bundle.bucket.name;
    this.securityGroupId = network.securityGroupId;
    this.otlpCaCertificate = tls.caCertPem;
    this.otlpClientCredentials = tls.clientParameters;
    this.otlpEndpoints = network.privateIp.apply((ip) => ({
      grpc: `https://${ip}:${SERVICES.otelcol.ports.otlpGrpc}`,
      http: `https://${ip}:${SERVICES.otelcol.ports.otlpHttp}`,
    }));
    const ids = pulumi.all([host.instanceId, network.privateIp]).apply(([instanceId, privateIp]) => ({ instanceId, privateIp }));
    this.sshConfig = ids.apply((i) => sshConfigBlock(cfg, i));
    this.sshCommand = ids.apply((i) => sshCommand(cfg, i));
    this.tunnels = ids.apply((i) => tunnelCommands(cfg, i));
    this.automationPrivateKey = automationKey.privateKeyOpenssh;

    this.registerOutputs({
      instanceId: this.instanceId,
      privateIp: this.privateIp,
      dataVolumeId: this.dataVolumeId,
      lokiBucket: this.lokiBucket,
      tempoBucket: this.tempoBucket,
      sshAlias: sshAlias(cfg),
    });
  }
}
