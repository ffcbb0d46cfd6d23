import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { StackConfig } from "../config/stack-config";
import { SecurityGroupRule, pairPeerRules } from "../config/network-rules";
import { pairSubnetsProblem } from "../config/sections/placement";
import { resourceTags } from "../config/tags";
import type { StackLabels } from "./stack-labels";

export interface MonitoringNetworkArgs {
  labels: StackLabels;
  /** The VPC of the security group (`vpcId`). */
  vpcId: pulumi.Input<string>;
  /** The (first) host's subnet (`subnetId`): its network interface is created there. */
  subnetId: pulumi.Input<string>;
  /** With `hosts: 2`: the second host's subnet, checked to lie in another zone (checkedSecondSubnet). */
  secondSubnetId?: pulumi.Input<string>;
  /** The group's TCP rules, from the stack config (config/network-rules.ts `ingressRules`, `egressRules`). */
  ingress: SecurityGroupRule[];
  egress: SecurityGroupRule[];
}

/** The arguments of one TCP rule of `securityGroupId` (ingress or egress) from its data (network-rules.ts). */
export function tcpRuleArgs(cfg: StackLabels, securityGroupId: pulumi.Input<string>, rule: SecurityGroupRule, tagName: string) {
  return {
    securityGroupId,
    description: rule.description,
    ipProtocol: "tcp",
    fromPort: rule.port,
    toPort: rule.port,
    cidrIpv4: rule.cidr && !rule.cidr.includes(":") ? rule.cidr : undefined,
    cidrIpv6: rule.cidr && rule.cidr.includes(":") ? rule.cidr : undefined,
    referencedSecurityGroupId: rule.securityGroupId,
    tags: resourceTags(cfg, tagName),
  };
}

/**
 * `secondSubnetId` once AWS has confirmed it lies in the stack's VPC and in another availability zone than
 * `subnetId` (the loader cannot know either). Everything of the second host and the load balancer takes its subnet
 * from here, so a pair in one zone (or across VPCs) fails at preview with the key named, before any of them is
 * created.
 */
export function checkedSecondSubnet(cfg: StackConfig, parent: pulumi.Resource): pulumi.Output<string> {
  const first = aws.ec2.getSubnetOutput({ id: cfg.subnetId }, { parent });
  const second = aws.ec2.getSubnetOutput({ id: cfg.secondSubnetId! }, { parent });
  return pulumi.all([first.availabilityZone, first.vpcId, second.availabilityZone, second.vpcId]).apply(([zone0, vpc0, zone1, vpc1]) => {
    const problem = pairSubnetsProblem(cfg, [
      { availabilityZone: zone0, vpcId: vpc0 },
      { availabilityZone: zone1, vpcId: vpc1 },
    ]);
    if (problem) throw new pulumi.RunError(problem);
    return cfg.secondSubnetId!;
  });
}

/**
 * The monitoring host's network identity: its security group and a network interface with a stable private IP.
 * The interface outlives the instance, so replacing the host keeps the OTLP endpoint (and the IP in its TLS
 * certificate) that applications use.
 *
 * The security group: Nothing is reachable from the internet: OTLP only from the applications'
 * networks or security groups, ssh only from admin networks (and not at all in the default SSM mode, where the SSM
 * agent connects out). The UIs (Grafana 3000, Prometheus 9090, ...) bind to 127.0.0.1 and are reached through a
 * tunnel, so they have no rule at all.
 *
 * An HA pair (`hosts: 2`) has a second interface, in `secondSubnetId`, with the same group. Both interfaces exist
 * before either instance, so each host's bundle names the other's address (Alertmanager's --cluster.peer, the
 * other Alertmanager Prometheus sends to) without any discovery, and the addresses survive host replacement. The
 * pair's own traffic is allowed by rules that reference the group itself: only the two hosts carry it.
 */
export class MonitoringNetwork extends pulumi.ComponentResource {
  readonly securityGroup: aws.ec2.SecurityGroup;
  readonly securityGroupId: pulumi.Output<string>;
  readonly networkInterface: aws.ec2.NetworkInterface;
  readonly privateIp: pulumi.Output<string>;
  /** Every host's interface, the first host's first (one entry on a single host). */
  readonly networkInterfaces: aws.ec2.NetworkInterface[];

  constructor(name: string, args: MonitoringNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:network:MonitoringNetwork", name, {}, opts);
    const cfg = args.labels;
    const child = { parent: this };

    this.securityGroup = new aws.ec2.SecurityGroup(
      name,
      {
        vpcId: args.vpcId,
        description: `Monitoring host ${cfg.project}/${cfg.stack}: OTLP from applications, no public ingress`,
        // Rules are separate resources below; inline rules would fight with them.
        tags: resourceTags(cfg, name),
      },
      child,
    );
    this.securityGroupId = this.securityGroup.id;

    const addRule = (direction: "in" | "out", rule: SecurityGroupRule, i: number) => {
      const args = tcpRuleArgs(cfg, this.securityGroup.id, rule, `${name}-${direction}-${i}`);
      return direction === "in"
        ? new aws.vpc.SecurityGroupIngressRule(`${name}-in-${i}`, args, child)
        : new aws.vpc.SecurityGroupEgressRule(`${name}-out-${i}`, args, child);
    };
    args.ingress.forEach((rule, i) => addRule("in", rule, i));
    args.egress.forEach((rule, i) => addRule("out", rule, i));

    this.networkInterface = new aws.ec2.NetworkInterface(
      name,
      {
        subnetId: args.subnetId,
        securityGroups: [this.securityGroup.id],
        description: `Monitoring host ${cfg.project}/${cfg.stack} (stable OTLP endpoint)`,
        tags: resourceTags(cfg, name),
      },
      child,
    );
    this.privateIp = this.networkInterface.privateIp;
    this.networkInterfaces = [this.networkInterface];

    if (args.secondSubnetId !== undefined) {
      this.networkInterfaces.push(
        new aws.ec2.NetworkInterface(
          `${name}-1`,
          {
            subnetId: args.secondSubnetId,
            securityGroups: [this.securityGroup.id],
            description: `Monitoring host 1 of the ${cfg.project}/${cfg.stack} pair (stable address: its peer and the load balancer name it)`,
            tags: resourceTags(cfg, `${name}-1`),
          },
          child,
        ),
      );
      pairPeerRules().forEach((rule, i) => {
        for (const direction of ["in", "out"] as const) {
          const args = {
            securityGroupId: this.securityGroup.id,
            description: rule.description,
            ipProtocol: rule.protocol,
            fromPort: rule.port,
            toPort: rule.port,
            referencedSecurityGroupId: this.securityGroup.id,
            tags: resourceTags(cfg, `${name}-pair-${direction}-${i}`),
          };
          if (direction === "in") new aws.vpc.SecurityGroupIngressRule(`${name}-pair-in-${i}`, args, child);
          else new aws.vpc.SecurityGroupEgressRule(`${name}-pair-out-${i}`, args, child);
        }
      });
    }

    this.registerOutputs({
      securityGroup: this.securityGroup,
      securityGroupId: this.securityGroupId,
      networkInterface: this.networkInterface,
      networkInterfaces: this.networkInterfaces,
      privateIp: this.privateIp,
    });
  }
}
