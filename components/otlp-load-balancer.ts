import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { loadBalancerIngressRules, SecurityGroupRule } from "../config/network-rules";
import { tcpRuleArgs } from "./network";
import { OTLP_PORTS, SERVICES } from "../layout/host-layout";
import { resourceTags } from "../config/tags";
import type { StackLabels } from "./stack-labels";

export interface OtlpLoadBalancerArgs {
  labels: StackLabels;
  /** The VPC of the pair (`vpcId`): the load balancer's security group and target groups live there. */
  vpcId: string;
  /** The hosts' OTLP ingress rules (config/network-rules.ts `ingressRules`): the applications' sources, admitted here too. */
  hostIngress: SecurityGroupRule[];
  /** The two subnets of the pair (two availability zones): the load balancer has a node in each. */
  subnetIds: pulumi.Input<string>[];
  /** The hosts' security group: it admits OTLP from the load balancer's group. */
  hostSecurityGroupId: pulumi.Input<string>;
}

const LB_NAME_PREFIX = "otlp-";

/**
 * Health checks of both OTLP target groups: a TCP connect to the collector's gRPC port. A Network Load Balancer
 * health-checks TCP target groups over TCP (its default; the interval is 5 to 300 s: "Health checks for Network Load
 * Balancer target groups", Elastic Load Balancing User Guide). A TCP check needs no extra port on the host and no
 * client certificate (the receivers require one). Unhealthy after 3 × 10 s.
 *
 * The gRPC port for both, not each group's traffic port: a prober that connects and closes before the TLS handshake
 * is silent on gRPC (grpc-go v1.79.3, the collector's, internal/transport/http2_server.go: "io.EOF means the
 * connection was closed before handshaking completed, which can happen naturally from probers" — not logged), but
 * on the HTTP receiver Go's net/http logs "http: TLS handshake error … EOF" through the collector's error-level
 * server log (config/confighttp/server.go at v0.149.0, `zap.NewStdLogAt(…, ErrorLevel)`): every check of every
 * load-balancer node would be an error line, and more than 10 in 5 minutes raise MonitoringServiceLogErrors. Both
 * receivers live in the one collector process, which starts them together.
 */
export const OTLP_HEALTH_CHECK = {
  protocol: "TCP",
  port: String(SERVICES.otelcol.ports.otlpGrpc),
  interval: 10,
  healthyThreshold: 3,
  unhealthyThreshold: 3,
} as const;

/**
 * The internal Network Load Balancer in front of a pair's collectors: one TCP listener per OTLP port, so TLS (and the
 * senders' client certificates) pass through untouched to whichever collector the flow lands on; the server
 * certificate names the load balancer's DNS name (OtlpTls).
 *
 * - Cross-zone load balancing is on: each zone's node has one target of its own, and with cross-zone off a node
 *   routes only to the healthy targets in its own zone (Elastic Load Balancing User Guide, health checks), so the
 *   node of a zone whose host is down would have none.
 * - The load balancer has a security group (it can only be given one at creation): its inbound rules are the
 *   application sources of the hosts' own OTLP rules, and the hosts admit OTLP from that group. Targets are
 *   instances, so client IP preservation is on and the collectors see the applications' addresses; a rule that
 *   references the load balancer's group admits its traffic even so ("Update the security groups for your Network
 *   Load Balancer", Elastic Load Balancing User Guide), and its health checks too. The direct rules (applications to
 *   each host's address) stay as on a single host.
 */
export class OtlpLoadBalancer extends pulumi.ComponentResource {
  readonly securityGroup: aws.ec2.SecurityGroup;
  readonly loadBalancer: aws.lb.LoadBalancer;
  readonly dnsName: pulumi.Output<string>;
  readonly targetGroups: aws.lb.TargetGroup[];
  readonly #name: string;

  constructor(name: string, args: OtlpLoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:network:OtlpLoadBalancer", name, {}, opts);
    this.#name = name;
    const cfg = args.labels;
    const child = { parent: this };

    // Created once both subnets are confirmed (two zones, checkedSecondSubnet): a pair in one zone registers none of it.
    const vpcId = pulumi.all(args.subnetIds).apply(() => args.vpcId);
    this.securityGroup = new aws.ec2.SecurityGroup(
      name,
      { vpcId, description: `OTLP load balancer ${cfg.project}/${cfg.stack}: applications to the monitoring pair`, tags: resourceTags(cfg, name) },
      child,
    );
    // The applications' OTLP sources, as on the hosts (ssh rules are the hosts' own).
    args.hostIngress
      .filter((rule) => (OTLP_PORTS as readonly number[]).includes(rule.port))
      .forEach((rule, i) => {
        new aws.vpc.SecurityGroupIngressRule(`${name}-in-${i}`, tcpRuleArgs(cfg, this.securityGroup.id, rule, `${name}-in-${i}`), child);
      });
    // Both ways: out of the load balancer's group to the hosts, into the hosts' group from the load balancer.
    loadBalancerIngressRules().forEach((rule, i) => {
      const common = { description: rule.description, ipProtocol: rule.protocol, fromPort: rule.port, toPort: rule.port };
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-out-${i}`,
        { ...common, securityGroupId: this.securityGroup.id, referencedSecurityGroupId: args.hostSecurityGroupId, tags: resourceTags(cfg, `${name}-out-${i}`) },
        child,
      );
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-hosts-in-${i}`,
        { ...common, securityGroupId: args.hostSecurityGroupId, referencedSecurityGroupId: this.securityGroup.id, tags: resourceTags(cfg, `${name}-hosts-in-${i}`) },
        child,
      );
    });

    this.loadBalancer = new aws.lb.LoadBalancer(
      name,
      {
        // Load balancer and target group names hold at most 32 characters, and Pulumi's automatic `<name>-<suffix>`
        // would be longer; a 6-character prefix gets a unique suffix from AWS's provider (and lets a replacement
        // be created before the old one is deleted). The Name tag says whose it is.
        namePrefix: LB_NAME_PREFIX,
        internal: true,
        loadBalancerType: "network",
        subnets: args.subnetIds,
        securityGroups: [this.securityGroup.id],
        enableCrossZoneLoadBalancing: true,
        tags: resourceTags(cfg, name),
      },
      child,
    );
    this.dnsName = this.loadBalancer.dnsName;

    this.targetGroups = OTLP_PORTS.map((port) => {
      const tg = new aws.lb.TargetGroup(
        `${name}-${port}`,
        {
          namePrefix: LB_NAME_PREFIX,
          vpcId: args.vpcId,
          port,
          protocol: "TCP",
          targetType: "instance",
          // The default for instance targets, stated: the collectors see the applications' addresses.
          preserveClientIp: "true",
          healthCheck: { enabled: true, ...OTLP_HEALTH_CHECK },
          tags: resourceTags(cfg, `${name}-${port}`),
        },
        child,
      );
      new aws.lb.Listener(
        `${name}-${port}`,
        { loadBalancerArn: this.loadBalancer.arn, port, protocol: "TCP", defaultActions: [{ type: "forward", targetGroupArn: tg.arn }], tags: resourceTags(cfg, `${name}-${port}`) },
        child,
      );
      return tg;
    });

    this.registerOutputs({ securityGroup: this.securityGroup, loadBalancer: this.loadBalancer, targetGroups: this.targetGroups, dnsName: this.dnsName, securityGroupId: this.securityGroup.id });
  }

  /**
   * Registers the pair's instances as targets of every OTLP port. A method, not an argument: the instances boot
   * with a certificate that names this load balancer, so they exist only after it.
   */
  registerTargets(instanceIds: pulumi.Input<string>[]): aws.lb.TargetGroupAttachment[] {
    return this.targetGroups.flatMap((tg, t) =>
      instanceIds.map(
        (instanceId, i) =>
          new aws.lb.TargetGroupAttachment(`${this.#name}-${OTLP_PORTS[t]}-host-${i}`, { targetGroupArn: tg.arn, targetId: instanceId, port: OTLP_PORTS[t] }, { parent: this }),
      ),
    );
  }
}
