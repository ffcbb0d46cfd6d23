import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { StackConfig } from "./config";
import { OTLP_PORTS } from "../hostfiles/layout";
import { resourceTags } from "./tags";

export interface MonitoringNetworkArgs {
  config: StackConfig;
}

/** One TCP rule of the security group (ingress or egress): a port and a CIDR or a security group. */
export interface IngressRule {
  description: string;
  port: number;
  cidr?: string;
  securityGroupId?: string;
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

    const addRule = (direction: "in" | "out", rule: IngressRule, i: number) => {
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

/** Every ingress rule of the host, derived from config only (the loader has already refused world-open CIDRs). */
export function ingressRules(cfg: StackConfig): IngressRule[] {
  const rules: IngressRule[] = [];
  for (const port of OTLP_PORTS) {
    for (const cidr of cfg.otlp.allowedCidrs) rules.push({ description: `OTLP ${port} from ${cidr}`, port, cidr });
    for (const sg of cfg.otlp.allowedSecurityGroupIds) rules.push({ description: `OTLP ${port} from ${sg}`, port, securityGroupId: sg });
  }
  if (cfg.access.mode === "ssh") {
    for (const cidr of cfg.access.adminCidrs) rules.push({ description: `ssh from admin network ${cidr}`, port: 22, cidr });
  }
  return rules;
}

/**
 * Outbound: HTTPS anywhere (SSM, S3, release downloads, Slack/PagerDuty/webhooks), the SMTP port of email
 * receivers, and the metrics ports of `appScrapeTargets` towards the applications' networks and security groups
 * only. DNS and NTP use the VPC resolver and the link-local time service, which security groups do not filter.
 */
export function egressRules(cfg: StackConfig): IngressRule[] {
  const rules: IngressRule[] = [{ port: 443, cidr: "0.0.0.0/0", description: "HTTPS: SSM, S3, downloads, alert receivers" }];
  const seen = new Set<number>([443]);
  for (const r of cfg.alerting.receivers) {
    if (r.type === "email" && r.smarthost) {
      const port = Number(r.smarthost.split(":").pop());
      if (!seen.has(port)) rules.push({ port, cidr: "0.0.0.0/0", description: `SMTP for email receiver ${r.name}` });
      seen.add(port);
    }
  }
  const scrapePorts = new Set(cfg.appScrapeTargets.flatMap((t) => t.targets.map((target) => Number(target.split(":").pop()))));
  for (const port of [...scrapePorts].filter((p) => !seen.has(p)).sort((a, b) => a - b)) {
    for (const cidr of cfg.otlp.allowedCidrs) rules.push({ port, cidr, description: `scrape applications on ${port} in ${cidr}` });
    for (const sg of cfg.otlp.allowedSecurityGroupIds) rules.push({ port, securityGroupId: sg, description: `scrape applications on ${port} in ${sg}` });
  }
  return rules;
}
