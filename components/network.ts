import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { StackConfig } from "../config/stack-config";
import { egressRules, ingressRules, SecurityGroupRule } from "../config/network-rules";
import { resourceTags } from "../config/tags";

export { egressRules, ingressRules } from "../config/network-rules";

export interface MonitoringNetworkArgs {
  config: StackConfig;
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
 */
export class MonitoringNetwork extends pulumi.ComponentResource {
  readonly securityGroup: aws.ec2.SecurityGroup;
  readonly securityGroupId: pulumi.Output<string>;
  readonly networkInterface: aws.ec2.NetworkInterface;
  readonly privateIp: pulumi.Output<string>;

  constructor(name: string, args: MonitoringNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("monitoring-hosts:network:MonitoringNetwork", name, {}, opts);
    const cfg = args.config;
    const child = { parent: this };

    this.securityGroup = new aws.ec2.SecurityGroup(
      name,
      {
        vpcId: cfg.vpcId,
        description: `Monitoring host ${cfg.project}/${cfg.stack}: OTLP from applications, no public ingress`,
        // Rules are separate resources below; inline rules would fight with them.
        tags: resourceTags(cfg, name),
      },
      child,
    );
    this.securityGroupId = this.securityGroup.id;

    const addRule = (direction: "in" | "out", rule: SecurityGroupRule, i: number) => {
      const args = {
        securityGroupId: this.securityGroup.id,
        description: rule.description,
        ipProtocol: "tcp",
        fromPort: rule.port,
        toPort: rule.port,
        cidrIpv4: rule.cidr && !rule.cidr.includes(":") ? rule.cidr : undefined,
        cidrIpv6: rule.cidr && rule.cidr.includes(":") ? rule.cidr : undefined,
        referencedSecurityGroupId: rule.securityGroupId,
        tags: resourceTags(cfg, `${name}-${direction}-${i}`),
      };
      return direction === "in"
        ? new aws.vpc.SecurityGroupIngressRule(`${name}-in-${i}`, args, child)
        : new aws.vpc.SecurityGroupEgressRule(`${name}-out-${i}`, args, child);
    };
    ingressRules(cfg).forEach((rule, i) => addRule("in", rule, i));
    egressRules(cfg).forEach((rule, i) => addRule("out", rule, i));

    this.networkInterface = new aws.ec2.NetworkInterface(
      name,
      {
        subnetId: cfg.subnetId,
        securityGroups: [this.securityGroup.id],
        description: `Monitoring host ${cfg.project}/${cfg.stack} (stable OTLP endpoint)`,
        tags: resourceTags(cfg, name),
      },
      child,
    );
    this.privateIp = this.networkInterface.privateIp;

    this.registerOutputs({ securityGroupId: this.securityGroupId, privateIp: this.privateIp });
  }
}
