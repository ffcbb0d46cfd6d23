import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/stack-config";
import { sshAlias, sshCommand, sshConfigBlock, tunnelCommands } from "./access-info";
import { AmpWorkspace } from "./amp-workspace";
import { AutomationKey } from "./automation-key";
import { DataVolume } from "./data-volume";
import { DataVolumeBackups } from "./data-volume-backups";
import { DeployVerification } from "./deploy-verification";
import { HostAlarms } from "./host-alarms";
import { HostConfigBundle } from "./host-config-bundle";
import { HostIdentity } from "./host-identity";
import { HostSecrets } from "./host-secrets";
import { MonitoringHost } from "./monitoring-host";
import { checkedSecondSubnet, MonitoringNetwork } from "./network";
import { OtlpLoadBalancer } from "./otlp-load-balancer";
import { OtlpTls } from "./otlp-tls";
import { TelemetryBuckets } from "./telemetry-buckets";
import { SERVICES } from "../layout/host-layout";
import { renderBundle } from "../hostfiles/bundle";
import { renderUserData } from "../hostfiles/user-data";
import { secretParameterPrefix } from "../hostfiles/secrets";
import type { BundleContext } from "../layout/host-file";
import { ceilDays } from "../config/duration";
import { egressRules, ingressRules } from "../config/network-rules";
import { stackLabels } from "./stack-labels";

export interface PairHostAccess {
  host: number;
  instanceId: string;
  privateIp: string;
  dataVolumeId: string;
  sshAlias: string;
  sshCommand: string;
  tunnels: Record<string, string>;
}

export interface MonitoringStackArgs {
  /**
   * The validated stack config (config/loader.ts). The one component that reads it: it hands each child component
   * the few values that child uses (its narrow, documented Args), so what a child depends on shows at its call here.
   */
  config: StackConfig;
}

/**
 * One environment's monitoring host (or HA pair of hosts, `hosts: 2`: docs/ha-pair.md) and everything it needs: network, telemetry buckets, data volume, identity,
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
  /** A pair's: the internal NLB applications send OTLP to (docs/ha-pair.md). */
  readonly otlpLoadBalancerDnsName?: pulumi.Output<string>;
  /** A pair's: each host's ids and how to reach it (ssh alias, ssh command, tunnels), host 0 first. */
  readonly pairHosts?: pulumi.Output<PairHostAccess[]>;
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
    /** A pair's (`hosts: 2`): the OTLP load balancer, the second host, its data volume and its deploy check. */
    loadBalancer?: OtlpLoadBalancer;
    secondHost?: MonitoringHost;
    secondDataVolume?: DataVolume;
    secondVerification?: DeployVerification;
  };

  constructor(name: string, args: MonitoringStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:index:MonitoringStack", name, {}, opts);
    const cfg = args.config;
    const child = { parent: this };

    // A pair's second subnet, once AWS confirms it lies in another zone: the second host and the load balancer use it.
    const secondSubnetId = cfg.hosts === 2 ? checkedSecondSubnet(cfg, this) : undefined;
    const labels = stackLabels(cfg);
    const { protectData } = cfg;
    const network = new MonitoringNetwork(
      `${name}-net`,
      { labels, vpcId: cfg.vpcId, subnetId: cfg.subnetId, ingress: ingressRules(cfg), egress: egressRules(cfg), ...(secondSubnetId ? { secondSubnetId } : {}) },
      child,
    );
    const buckets = new TelemetryBuckets(
      `${name}-telemetry`,
      { labels, logsRetentionDays: ceilDays(cfg.retention.logs), tracesRetentionDays: ceilDays(cfg.retention.traces), protectData },
      child,
    );
    const volume = (n: string, subnetId: pulumi.Input<string>) => new DataVolume(n, { labels, subnetId, ...cfg.dataVolume, protectData }, child);
    const dataVolume = volume(`${name}-data`, cfg.subnetId);
    // Each host of a pair has its own data volume, in its own zone.
    const dataVolumes = [dataVolume, ...(secondSubnetId ? [volume(`${name}-data-1`, secondSubnetId)] : [])];
    const privateIps = network.networkInterfaces.map((eni) => eni.privateIp);
    // OTLP reaches a pair through an internal NLB (TLS passes through): it exists before the certificate naming it.
    const loadBalancer = secondSubnetId
      ? new OtlpLoadBalancer(
          `${name}-otlp-lb`,
          { labels, vpcId: cfg.vpcId, hostIngress: ingressRules(cfg), subnetIds: [cfg.subnetId, secondSubnetId], hostSecurityGroupId: network.securityGroupId },
          child,
        )
      : undefined;
    const tls = new OtlpTls(
      `${name}-otlp`,
      { labels, clients: cfg.otlp.clients, privateIp: network.privateIp, ...(loadBalancer ? { pair: { peerIp: privateIps[1], loadBalancerDnsName: loadBalancer.dnsName } } : {}) },
      child,
    );
    const automationKey = new AutomationKey(`${name}-automation`, {}, child);

    // Remote write to AMP (`remoteWrite`): the workspace is needed by the host's policy and its prometheus.yml.
    const amp = cfg.remoteWrite
      ? new AmpWorkspace(`${name}-amp`, { labels, region: cfg.region, workspaceId: cfg.remoteWrite.workspaceId, protectData }, child)
      : undefined;

    const secrets = new HostSecrets(
      `${name}-secrets`,
      { labels, grafanaAdminPassword: cfg.grafanaAdminPassword, receivers: cfg.alerting.receivers, otlpServerKeyPem: tls.serverKeyPem },
      child,
    );

    // Each renderer gets what it reads (layout/host-file.ts). A host's bundle: the buckets, certificates, secret
    // versions, the automation key (authorised next to the on-call engineers' keys; public keys only), the AMP
    // endpoint and, in a pair, its index and both addresses.
    const bundleContext = (host: number): pulumi.Output<BundleContext> =>
      pulumi
        .all([buckets.loki.name, buckets.tempo.name, tls.serverCertPem, tls.clientCaBundlePem, automationKey.publicKeyOpenssh, secrets.versions, amp?.prometheusEndpoint, pulumi.all(privateIps)])
        .apply(([lokiBucket, tempoBucket, otlpServerCertPem, otlpClientCaPem, automationPublicKey, secretVersions, ampWorkspaceUrl, ips]) => ({
          lokiBucket,
          tempoBucket,
          otlpServerCertPem,
          otlpClientCaPem,
          automationPublicKey,
          secretVersions,
          ...(ampWorkspaceUrl ? { ampWorkspaceUrl } : {}),
          ...(ips.length === 2 ? { pair: { index: host, selfIp: ips[host], peerIp: ips[1 - host] } } : {}),
        }));
    const bundle = new HostConfigBundle(`${name}-config`, { labels, contents: privateIps.map((_, host) => bundleContext(host).apply((ctx) => renderBundle(cfg, ctx))) }, child);
    // Named by its role: until issue 14 it shared `${name}-host` with the host itself (the alias keeps its URN, and
    // those of its children, whose names start with it).
    const identity = new HostIdentity(
      `${name}-identity`,
      {
        labels,
        region: cfg.region,
        telemetryBucketArns: [buckets.loki.arn, buckets.tempo.arn],
        configBucketArn: bundle.bucket.arn,
        configObjectKeys: bundle.objectKeys,
        secretParameterPrefix: secretParameterPrefix(cfg),
        ...(amp ? { ampWorkspaceArn: amp.arn } : {}),
      },
      { ...child, aliases: [{ name: `${name}-host` }] },
    );

    const hosts = network.networkInterfaces.map(
      (eni, i) =>
        new MonitoringHost(
          i === 0 ? `${name}-host` : `${name}-host-${i}`,
          {
            labels,
            architecture: cfg.architecture,
            instanceType: cfg.instanceType,
            rootVolumeSizeGiB: cfg.rootVolumeSizeGiB,
            networkInterfaceId: eni.id,
            instanceProfileName: identity.instanceProfile.name,
            dataVolumeId: dataVolumes[i].volumeId,
            // User data: where this host's bundle is and which volume holds its data.
            userData: pulumi
              .all([bundle.bucket.name, dataVolumes[i].volumeId])
              .apply(([configBucket, dataVolumeId]) => renderUserData(cfg, { configBucket, configObjectKey: bundle.objectKeys[i], dataVolumeId })),
            bootDependencies: [bundle, secrets],
          },
          child,
        ),
    );
    const host = hosts[0];
    loadBalancer?.registerTargets(hosts.map((h) => h.instanceId));

    const backups = new DataVolumeBackups(`${name}-backups`, { labels, snapshotRetentionDays: cfg.operations.snapshotRetentionDays, protectData }, child);
    const alarms = new HostAlarms(
      `${name}-alarms`,
      {
        labels,
        region: cfg.region,
        ...(cfg.runbookBaseUrl ? { runbookBaseUrl: cfg.runbookBaseUrl } : {}),
        hostAlarmEmails: cfg.operations.hostAlarmEmails,
        ...(cfg.operations.hostAlarmPagerUrl ? { hostAlarmPagerUrl: cfg.operations.hostAlarmPagerUrl } : {}),
        protectData,
        instanceId: host.instanceId, ...(hosts[1] ? { secondInstanceId: hosts[1].instanceId } : {}) },
      child,
    );

    const verifications = cfg.operations.verifyDeploy
      ? hosts.map(
          (h, i) =>
            new DeployVerification(
              i === 0 ? `${name}-verify` : `${name}-verify-${i}`,
              {
                accessMode: cfg.access.mode,
                sshUser: cfg.access.sshUser,
                region: cfg.region,
                instanceId: h.instanceId,
                privateIp: privateIps[i],
                bundleEtag: bundle.objects[i].etag,
                automationPrivateKey: automationKey.privateKeyOpenssh,
                dependsOn: [h.attachment, bundle],
              },
              child,
            ),
        )
      : [];
    const verification = verifications[0];

    this.parts = { network, buckets, dataVolume, bundle, identity, host, backups, alarms, verification, amp, ...(loadBalancer ? { loadBalancer, secondHost: hosts[1], secondDataVolume: dataVolumes[1], secondVerification: verifications[1] } : {}) };
    this.instanceId = host.instanceId;
    this.privateIp = network.privateIp;
    this.dataVolumeId = dataVolume.volumeId;
    this.lokiBucket = buckets.loki.name;
    this.tempoBucket = buckets.tempo.name;
    this.configBucket = bundle.bucket.name;
    this.securityGroupId = network.securityGroupId;
    this.otlpCaCertificate = tls.caCertPem;
    this.otlpClientCredentials = tls.clientParameters;
    // A pair's applications send to the load balancer, which reaches whichever collector is up.
    this.otlpEndpoints = (loadBalancer ? loadBalancer.dnsName : network.privateIp).apply((address) => ({
      grpc: `https://${address}:${SERVICES.otelcol.ports.otlpGrpc}`,
      http: `https://${address}:${SERVICES.otelcol.ports.otlpHttp}`,
    }));
    const access = hosts.map((h, i) =>
      pulumi.all([h.instanceId, privateIps[i], dataVolumes[i].volumeId]).apply(([instanceId, privateIp, dataVolumeId]) => ({ host: i, instanceId, privateIp, dataVolumeId })),
    );
    const ids = access[0];
    // A pair's ssh config has one block per host (`<alias>` and `<alias>-1`).
    this.sshConfig = pulumi.all(access).apply((all) => all.map((i) => sshConfigBlock(cfg, i)).join("\n"));
    this.sshCommand = ids.apply((i) => sshCommand(cfg, i));
    this.tunnels = ids.apply((i) => tunnelCommands(cfg, i));
    this.automationPrivateKey = automationKey.privateKeyOpenssh;
    if (loadBalancer) {
      this.otlpLoadBalancerDnsName = loadBalancer.dnsName;
      this.pairHosts = pulumi.all(access).apply((all) =>
        all.map((i) => ({ ...i, sshAlias: sshAlias(cfg, i.host), sshCommand: sshCommand(cfg, i), tunnels: tunnelCommands(cfg, i) })),
      );
    }

    // Every public output (the automation key as the secret it is).
    this.registerOutputs({
      instanceId: this.instanceId,
      privateIp: this.privateIp,
      dataVolumeId: this.dataVolumeId,
      lokiBucket: this.lokiBucket,
      tempoBucket: this.tempoBucket,
      configBucket: this.configBucket,
      securityGroupId: this.securityGroupId,
      otlpCaCertificate: this.otlpCaCertificate,
      otlpClientCredentials: this.otlpClientCredentials,
      otlpEndpoints: this.otlpEndpoints,
      sshAlias: sshAlias(cfg),
      sshConfig: this.sshConfig,
      sshCommand: this.sshCommand,
      tunnels: this.tunnels,
      automationPrivateKey: this.automationPrivateKey,
      ...(loadBalancer ? { otlpLoadBalancerDnsName: this.otlpLoadBalancerDnsName, pairHosts: this.pairHosts } : {}),
    });
  }
}
