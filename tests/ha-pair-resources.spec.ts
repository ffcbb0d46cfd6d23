/**
 * The AWS side of an HA pair (`hosts: 2`, docs/ha-pair.md) as registered under the shared mocks, for both committed
 * stacks with and without `remoteWrite`: what would be sent to AWS. The loopback proof of the rendered pair on real
 * Prometheus and Alertmanager is tests/ha-pair-e2e.spec.ts.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { resources, settle, subnetZone, valueOf } from "./support/mocks";
import { build, Built } from "./support/stack-build";
import { stackConfig } from "./support/stacks";
import { MonitoringStack } from "../components/monitoring-stack";
import { bundleObjectKey } from "../layout/host-file";
import { ingressRules } from "../config/network-rules";
import { OTLP_HEALTH_CHECK } from "../components/otlp-load-balancer";
import { ALERTMANAGER_CLUSTER_PORT, DATA_DEVICE_NAME, OTLP_PORTS, SERVICES } from "../layout/host-layout";

/** A second subnet in another zone than the committed stacks' subnetId (the mocks' zones follow the last digit). */
const SECOND_SUBNET = "subnet-00000000000000001";
const PAIR = { hosts: 2, secondSubnetId: SECOND_SUBNET };

interface Bundle {
  files: { path: string; content: string }[];
}
const bundleOf = (r: { inputs: Record<string, any> }): Bundle => JSON.parse(r.inputs.content);
const fileOf = (b: Bundle, path: string) => b.files.find((f) => f.path === path)?.content ?? "";

for (const stackName of ["dev", "prd"]) {
  for (const remoteWrite of [false, true]) {
    const overrides = { ...PAIR, ...(remoteWrite ? { remoteWrite: { workspace: "create" } } : {}) };
    const label = `${stackName} pair${remoteWrite ? " with remoteWrite" : ""}`;
    describe(`${label}: resources`, () => {
      const cfg = stackConfig(stackName, overrides);
      let b: Built;
      let ips: string[];
      before(async () => {
        b = await build(stackName, overrides, `pair${remoteWrite ? "-rw" : ""}-${stackName}`);
        ips = await Promise.all(b.stack.parts.network.networkInterfaces.map((eni) => valueOf(eni.privateIp)));
      });

      it("two interfaces in the two subnets (two zones), one security group, two distinct addresses", () => {
        const enis = b.of("aws:ec2/networkInterface:NetworkInterface").sort((x, y) => x.name.localeCompare(y.name));
        assert.deepEqual(enis.map((e) => e.inputs.subnetId), [cfg.subnetId, SECOND_SUBNET]);
        assert.notEqual(subnetZone(cfg.subnetId), subnetZone(SECOND_SUBNET));
        assert.equal(new Set(enis.map((e) => JSON.stringify(e.inputs.securityGroups))).size, 1, "both carry the hosts' group");
        assert.equal(new Set(ips).size, 2);
      });

      it("two instances, each on its own interface and its own data volume (same device), volumes in their host's zone", () => {
        const instances = b.of("aws:ec2/instance:Instance").sort((x, y) => x.name.localeCompare(y.name));
        assert.deepEqual(instances.map((i) => i.name), [`${b.prefix}-host`, `${b.prefix}-host-1`]);
        const enis = instances.map((i) => i.inputs.primaryNetworkInterface.networkInterfaceId);
        assert.deepEqual(enis, [`${b.prefix}-net-id`, `${b.prefix}-net-1-id`]);
        for (const i of instances) assert.equal(i.inputs.instanceType, cfg.instanceType);
        const attachments = b.of("aws:ec2/volumeAttachment:VolumeAttachment").sort((x, y) => x.name.localeCompare(y.name));
        assert.deepEqual(
          attachments.map((a) => [a.inputs.instanceId, a.inputs.volumeId, a.inputs.deviceName]),
          [
            ["i-0123456789abcdef0", "vol-0123456789abcdef0", DATA_DEVICE_NAME],
            ["i-0123456789abcdef1", "vol-0123456789abcdef1", DATA_DEVICE_NAME],
          ],
        );
        const volumes = b.of("aws:ebs/volume:Volume").sort((x, y) => x.name.localeCompare(y.name));
        assert.deepEqual(volumes.map((v) => v.inputs.availabilityZone), [subnetZone(cfg.subnetId), subnetZone(SECOND_SUBNET)]);
        for (const v of volumes) {
          assert.equal(v.inputs.encrypted, true);
          assert.equal(v.inputs.size, cfg.dataVolume.sizeGiB);
          assert.equal(v.inputs.finalSnapshot, true);
        }
        // One snapshot policy selects both by the stack's backup tag.
        const policy = b.one("aws:dlm/lifecyclePolicy:LifecyclePolicy");
        for (const v of volumes) for (const [k, val] of Object.entries<string>(policy.inputs.policyDetails.targetTags)) assert.equal(v.inputs.tags[k], val);
      });

      it("each host's bundle and user data render its own side of the pair (addresses from the interfaces)", () => {
        const objects = b.of("aws:s3/bucketObjectv2:BucketObjectv2").sort((x, y) => x.name.localeCompare(y.name));
        assert.deepEqual(objects.map((o) => o.inputs.key), [bundleObjectKey(cfg.stack, 0), bundleObjectKey(cfg.stack, 1)]);
        objects.forEach((o, host) => {
          const bundle = bundleOf(o);
          const [self, peer] = [ips[host], ips[1 - host]];
          const prom = fileOf(bundle, SERVICES.prometheus.config);
          assert.match(prom, new RegExp(`__replica__: "?${host}"?`), `host ${host} replica label`);
          assert.ok(prom.includes(`${peer}:${SERVICES.alertmanager.ports.http}`), `host ${host} sends alerts to the other Alertmanager`);
          const am = bundle.files.filter((f) => f.path.includes("alertmanager")).map((f) => f.content).join("\n");
          assert.ok(am.includes(`--cluster.peer=${peer}:${ALERTMANAGER_CLUSTER_PORT}`), `host ${host} peers with ${peer}`);
          assert.ok(am.includes(`--cluster.listen-address=${self}:${ALERTMANAGER_CLUSTER_PORT}`));
          // Loki: one ring over memberlist, gRPC on the host's own address (the peer dials it), HTTP on loopback.
          const loki = YAML.parse(fileOf(bundle, SERVICES.loki.config));
          assert.equal(loki.common.ring.kvstore.store, "memberlist");
          assert.equal(loki.common.instance_addr, self);
          assert.equal(loki.common.replication_factor, 1);
          assert.deepEqual(loki.memberlist, { bind_addr: [self], bind_port: SERVICES.loki.ports.memberlist, join_members: [`${peer}:${SERVICES.loki.ports.memberlist}`] });
          assert.deepEqual([loki.server.grpc_listen_address, loki.server.http_listen_address], [self, "127.0.0.1"]);
          assert.equal(loki.ingester.autoforget_unhealthy, true);
          // Tempo: a monolith per host, each over its own prefix of the shared bucket.
          const tempo = YAML.parse(fileOf(bundle, SERVICES.tempo.config));
          assert.equal(tempo.storage.trace.s3.prefix, `host-${host}`);
          assert.deepEqual(tempo.memberlist.bind_addr, ["127.0.0.1"], "the two Tempo never gossip");
        });
        const userData = b.of("aws:ec2/instance:Instance").sort((x, y) => x.name.localeCompare(y.name)).map((i) => i.inputs.userData as string);
        assert.ok(userData[0].includes(bundleObjectKey(cfg.stack, 0)) && !userData[0].includes(bundleObjectKey(cfg.stack, 1)));
        assert.ok(userData[1].includes(bundleObjectKey(cfg.stack, 1)));
      });

      it("Grafana runs on both hosts with the same provisioning, data sources and dashboards", () => {
        const [a, b2] = b.of("aws:s3/bucketObjectv2:BucketObjectv2").sort((x, y) => x.name.localeCompare(y.name)).map(bundleOf);
        const grafana = (x: Bundle) => x.files.filter((f) => f.path.startsWith("/etc/grafana/") || f.path.includes("/grafana/dashboards/"));
        assert.ok(grafana(a).length > 3);
        assert.deepEqual(grafana(b2), grafana(a));
        assert.ok(b2.files.some((f) => f.path.includes("grafana.service")), "the second host runs Grafana too");
      });

      it("one instance role reads exactly the two bundles", () => {
        const policy = JSON.parse(b.one("aws:iam/rolePolicy:RolePolicy", "-identity").inputs.policy);
        const read = policy.Statement.find((s: { Sid: string }) => s.Sid === "ConfigBundleRead");
        assert.deepEqual(
          read.Resource.map((r: string) => r.split(":::")[1].replace(/^[^/]+\//, "")),
          [bundleObjectKey(cfg.stack, 0), bundleObjectKey(cfg.stack, 1)],
        );
        assert.equal(b.of("aws:ec2/instance:Instance").filter((i) => i.inputs.iamInstanceProfile === `${b.prefix}-identity`).length, 2);
      });

      it("the pair's own ports are open between the pair's security group only, both ways", () => {
        const pairRules = [
          ...b.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
          ...b.of("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
        ].filter((r) => r.name.includes("-net-pair-"));
        const expected = [
          ["tcp", SERVICES.alertmanager.ports.http],
          ["tcp", ALERTMANAGER_CLUSTER_PORT],
          ["udp", ALERTMANAGER_CLUSTER_PORT],
          // Loki's ring (docs/ha-pair.md, "Loki"): gossip and gRPC.
          ["tcp", SERVICES.loki.ports.memberlist],
          ["udp", SERVICES.loki.ports.memberlist],
          ["tcp", SERVICES.loki.ports.grpc],
        ];
        for (const direction of ["in", "out"]) {
          const rules = pairRules.filter((r) => r.name.includes(`-pair-${direction}-`));
          assert.deepEqual(rules.map((r) => [r.inputs.ipProtocol, r.inputs.fromPort]).sort(), [...expected].sort());
          for (const r of rules) {
            assert.equal(r.inputs.securityGroupId, `${b.prefix}-net-id`);
            assert.equal(r.inputs.referencedSecurityGroupId, `${b.prefix}-net-id`, `${r.name}: the group itself, no CIDR`);
            assert.equal(r.inputs.cidrIpv4, undefined);
            assert.equal(r.inputs.toPort, r.inputs.fromPort);
          }
        }
        // Nothing else of the hosts' group names these ports.
        const others = b.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => !r.name.includes("-net-pair-"));
        for (const r of others) {
          const pairPorts: number[] = [SERVICES.alertmanager.ports.http, ALERTMANAGER_CLUSTER_PORT, SERVICES.loki.ports.memberlist, SERVICES.loki.ports.grpc];
          assert.ok(!pairPorts.includes(r.inputs.fromPort), r.name);
        }
      });

      it("an internal NLB in both subnets, with its own security group, cross-zone, TCP listeners passing TLS through to both hosts", () => {
        const lb = b.one("aws:lb/loadBalancer:LoadBalancer");
        assert.equal(lb.inputs.internal, true);
        assert.equal(lb.inputs.loadBalancerType, "network");
        assert.deepEqual(lb.inputs.subnets, [cfg.subnetId, SECOND_SUBNET]);
        assert.deepEqual(lb.inputs.securityGroups, [`${b.prefix}-otlp-lb-id`]);
        assert.equal(lb.inputs.enableCrossZoneLoadBalancing, true);
        assert.ok(lb.inputs.namePrefix.length <= 6, "AWS allows a 6-character name prefix");
        const groups = b.of("aws:lb/targetGroup:TargetGroup");
        const listeners = b.of("aws:lb/listener:Listener");
        assert.deepEqual(groups.map((g) => g.inputs.port).sort(), [...OTLP_PORTS]);
        for (const port of OTLP_PORTS) {
          const tg = groups.find((g) => g.inputs.port === port)!;
          assert.equal(tg.inputs.protocol, "TCP", "TCP: TLS and the client certificates reach the collector untouched");
          assert.equal(tg.inputs.targetType, "instance");
          assert.equal(tg.inputs.preserveClientIp, "true");
          assert.equal(tg.inputs.vpcId, cfg.vpcId);
          assert.deepEqual(
            { protocol: tg.inputs.healthCheck.protocol, port: tg.inputs.healthCheck.port, interval: tg.inputs.healthCheck.interval },
            // Both groups check the gRPC port (a prober's closed connection is an error line on the HTTP receiver).
            { protocol: "TCP", port: String(SERVICES.otelcol.ports.otlpGrpc), interval: OTLP_HEALTH_CHECK.interval },
          );
          const listener = listeners.find((l) => l.inputs.port === port)!;
          assert.equal(listener.inputs.protocol, "TCP");
          assert.equal(listener.inputs.defaultActions[0].type, "forward");
          assert.equal(listener.inputs.defaultActions[0].targetGroupArn, `arn:aws:lb:eu-west-1:123456789012:${tg.name}`);
          const attachments = b.of("aws:lb/targetGroupAttachment:TargetGroupAttachment").filter((a) => a.inputs.targetGroupArn === listener.inputs.defaultActions[0].targetGroupArn);
          assert.deepEqual(attachments.map((a) => a.inputs.targetId).sort(), ["i-0123456789abcdef0", "i-0123456789abcdef1"]);
          for (const a of attachments) assert.equal(a.inputs.port, port);
        }
      });

      it("the NLB admits the applications' sources only; the hosts admit OTLP from the NLB's group (client IP preservation)", () => {
        const lbGroup = `${b.prefix}-otlp-lb-id`;
        const lbIn = b.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.inputs.securityGroupId === lbGroup);
        const apps = ingressRules(cfg).filter((r) => (OTLP_PORTS as readonly number[]).includes(r.port));
        assert.deepEqual(
          lbIn.map((r) => [r.inputs.fromPort, r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6 ?? r.inputs.referencedSecurityGroupId]).sort(),
          apps.map((r) => [r.port, r.cidr ?? r.securityGroupId]).sort(),
        );
        const lbOut = b.of("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").filter((r) => r.inputs.securityGroupId === lbGroup);
        assert.deepEqual(lbOut.map((r) => [r.inputs.fromPort, r.inputs.referencedSecurityGroupId]).sort(), OTLP_PORTS.map((p) => [p, `${b.prefix}-net-id`]));
        const hostsFromLb = b.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.inputs.referencedSecurityGroupId === lbGroup);
        assert.deepEqual(hostsFromLb.map((r) => [r.inputs.securityGroupId, r.inputs.fromPort]).sort(), OTLP_PORTS.map((p) => [`${b.prefix}-net-id`, p]));
        // The direct rules of a single host are still there (applications may also reach one host by its address).
        const direct = b.of("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => /-net-in-\d+$/.test(r.name));
        assert.equal(direct.length, ingressRules(cfg).length);
      });

      it("the OTLP certificate names both hosts and the NLB; applications are pointed at the NLB", async () => {
        const csr = b.one("tls:index/certRequest:CertRequest", "-otlp-server");
        assert.deepEqual(csr.inputs.ipAddresses, ips);
        const dns = await valueOf(b.stack.otlpLoadBalancerDnsName!);
        assert.ok(csr.inputs.dnsNames.includes(dns));
        const endpoints = await valueOf(b.stack.otlpEndpoints);
        assert.equal(endpoints.grpc, `https://${dns}:${SERVICES.otelcol.ports.otlpGrpc}`);
        assert.equal(endpoints.http, `https://${dns}:${SERVICES.otelcol.ports.otlpHttp}`);
      });

      it("status-check alarms and a deploy check for each host", () => {
        const alarms = b.of("aws:cloudwatch/metricAlarm:MetricAlarm");
        assert.deepEqual(
          alarms.map((a) => [a.inputs.metricName, a.inputs.dimensions.InstanceId]).sort(),
          [
            ["StatusCheckFailed_Instance", "i-0123456789abcdef0"],
            ["StatusCheckFailed_Instance", "i-0123456789abcdef1"],
            ["StatusCheckFailed_System", "i-0123456789abcdef0"],
            ["StatusCheckFailed_System", "i-0123456789abcdef1"],
          ],
        );
        for (const a of alarms) assert.ok(a.inputs.name.startsWith(`${b.prefix}-alarms-`), "inside the topic policy's name pattern");
        const checks = b.of("command:local:Command").filter((c) => c.name.includes("-verify"));
        if (cfg.operations.verifyDeploy) {
          assert.deepEqual(checks.map((c) => c.inputs.environment.INSTANCE_ID).sort(), ["i-0123456789abcdef0", "i-0123456789abcdef1"]);
        } else {
          assert.equal(checks.length, 0);
        }
      });

      it("outputs each host's ids and access, and the NLB's DNS name", async () => {
        const hosts = await valueOf(b.stack.pairHosts!);
        assert.deepEqual(hosts.map((h) => [h.instanceId, h.privateIp, h.dataVolumeId]), [
          ["i-0123456789abcdef0", ips[0], "vol-0123456789abcdef0"],
          ["i-0123456789abcdef1", ips[1], "vol-0123456789abcdef1"],
        ]);
        assert.deepEqual(hosts.map((h) => h.sshAlias), [`monitoring-hosts-${stackName}`, `monitoring-hosts-${stackName}-1`]);
        assert.ok(hosts[1].tunnels.grafana.includes("i-0123456789abcdef1") || hosts[1].tunnels.grafana.includes(ips[1]));
        const ssh = await valueOf(b.stack.sshConfig);
        assert.match(ssh, new RegExp(`Host monitoring-hosts-${stackName}\\n[\\s\\S]*Host monitoring-hosts-${stackName}-1\\n`));
        assert.ok(await valueOf(b.stack.otlpLoadBalancerDnsName!));
      });
    });
  }

  it(`${stackName}: the second volume carries the first's protection (protect and retainOnDelete in prd)`, async () => {
    const seen = new Map<string, pulumi.CustomResourceOptions>();
    const record: pulumi.ResourceTransformation = (a) => {
      if (a.type === "aws:ebs/volume:Volume") seen.set(a.name, a.opts);
      return undefined;
    };
    const prefix = `pair-opts-${stackName}`;
    const stack = new MonitoringStack(prefix, { config: stackConfig(stackName, PAIR) }, { transformations: [record] });
    await valueOf(stack.sshConfig);
    await settle();
    assert.deepEqual([...seen.keys()].sort(), [`${prefix}-data`, `${prefix}-data-1`]);
    const expected = stackName === "prd" ? true : undefined;
    for (const opts of seen.values()) {
      assert.equal(opts.protect, expected);
      assert.equal(opts.retainOnDelete, expected);
    }
  });
}

describe("a pair and a single host", () => {
  it("a pair keeps every resource of the single host under the same name and type (going to hosts: 2 replaces nothing)", async () => {
    const single = await build("prd", {}, "same-prd");
    const pair = await build("prd", PAIR, "same-pair-prd");
    const key = (b: Built) => (r: { type: string; name: string }) => `${r.type} ${r.name.slice(b.prefix.length)}`;
    const singleKeys = resources.filter((r) => r.name.startsWith(`${single.prefix}-`)).map(key(single));
    const pairKeys = new Set(resources.filter((r) => r.name.startsWith(`${pair.prefix}-`)).map(key(pair)));
    for (const k of singleKeys) assert.ok(pairKeys.has(k), `the pair lacks ${k}`);
    // And the single host registers none of the pair's.
    const pairOnly = /^-((net|data|host|config|verify)-1|alarms-host-1-.*|otlp-lb.*|net-pair-(in|out)-\d+)$/;
    assert.deepEqual(singleKeys.filter((k) => pairOnly.test(k.split(" ")[1])), []);
    assert.equal(single.stack.otlpLoadBalancerDnsName, undefined);
    assert.equal(single.stack.pairHosts, undefined);
  });

  /** Builds a pair whose second subnet AWS (the mocks) places wrongly; returns the errors and the AWS resources registered. */
  async function wronglyPlaced(prefix: string, secondSubnetId: string): Promise<{ errors: string[]; registered: string[] }> {
    const errors: string[] = [];
    const onError = (e: Error) => errors.push(e.message);
    process.on("unhandledRejection", onError);
    try {
      const stack = new MonitoringStack(prefix, { config: stackConfig("dev", { hosts: 2, secondSubnetId }) });
      await Promise.race([valueOf(stack.sshConfig).catch((e: Error) => errors.push(e.message)), new Promise((r) => setTimeout(r, 1500))]);
      await settle();
    } finally {
      process.off("unhandledRejection", onError);
    }
    // Components may be registered; no AWS resource of the second host or the load balancer is.
    const registered = resources.filter((r) => r.name.startsWith(`${prefix}-`) && r.type.startsWith("aws:")).map((r) => r.name);
    for (const n of ["net-1", "data-1", "otlp-lb", "host-1"]) assert.ok(!registered.includes(`${prefix}-${n}`), `${prefix}-${n} registered`);
    return { errors, registered };
  }

  it("a pair whose two subnets share a zone fails naming secondSubnetId, before the second host or the NLB is registered", async () => {
    const { errors } = await wronglyPlaced("zone-dev", "subnet-00000000000000003"); // the mocks put …0 and …3 in eu-west-1a
    assert.ok(
      errors.some((m) => /monitoring-hosts:secondSubnetId: subnet-00000000000000003 is in availability zone eu-west-1a, like subnetId/.test(m)),
      errors.join("\n") || "no error",
    );
  });

  it("a pair whose second subnet is in another VPC fails naming secondSubnetId and vpcId", async () => {
    const { errors } = await wronglyPlaced("vpc-dev", "subnet-0ffff000000000001");
    assert.ok(
      errors.some((m) => /monitoring-hosts:secondSubnetId: subnet-0ffff000000000001 is in vpc-0ffff000000000000, not in vpcId vpc-00000000000000000/.test(m)),
      errors.join("\n") || "no error",
    );
  });
});
