/**
 * The security group's rules as data, derived from config only: the network component creates them and the config
 * loader counts them against the security-group rule quota before anything is created.
 */
import type { StackConfig } from "./stack-config";
import { ALERTMANAGER_CLUSTER_PORT, OTLP_PORTS, SERVICES } from "../layout/host-layout";

/** One TCP rule of the security group (ingress or egress): a port and a CIDR or a security group. */
export interface SecurityGroupRule {
  description: string;
  port: number;
  cidr?: string;
  securityGroupId?: string;
}

/** Every ingress rule of the host, derived from config only (the loader has already refused world-open CIDRs). */
export function ingressRules(cfg: Pick<StackConfig, "otlp" | "access">): SecurityGroupRule[] {
  const rules: SecurityGroupRule[] = [];
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
export function egressRules(cfg: Pick<StackConfig, "alerting" | "appScrapeTargets" | "otlp">): SecurityGroupRule[] {
  const rules: SecurityGroupRule[] = [{ port: 443, cidr: "0.0.0.0/0", description: "HTTPS: SSM, S3, downloads, alert receivers" }];
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

/**
 * A rule that exists only in an HA pair (`hosts: 2`): between the two hosts (both carry the one security group, so
 * the rule references that group itself) or from the OTLP load balancer's security group.
 */
export interface PairRule {
  description: string;
  protocol: "tcp" | "udp";
  port: number;
  /** `pair`: the hosts' own security group; `loadBalancer`: the NLB's. */
  peer: "pair" | "loadBalancer";
}

/**
 * What the two hosts of a pair say to each other, both ways (ingress on one host is egress on the other; the host
 * group's egress is closed but for what networkRules lists): the other Prometheus sends alerts to this Alertmanager
 * (9093), the Alertmanagers gossip (9094, TCP and UDP: memberlist uses both), and the two Loki are one ring.
 */
export function pairPeerRules(): PairRule[] {
  const am = SERVICES.alertmanager.ports.http;
  const loki = SERVICES.loki.ports;
  return [
    { description: `Alertmanager ${am} from the other Prometheus of the pair`, protocol: "tcp", port: am, peer: "pair" },
    { description: `Alertmanager gossip ${ALERTMANAGER_CLUSTER_PORT}/tcp within the pair`, protocol: "tcp", port: ALERTMANAGER_CLUSTER_PORT, peer: "pair" },
    { description: `Alertmanager gossip ${ALERTMANAGER_CLUSTER_PORT}/udp within the pair`, protocol: "udp", port: ALERTMANAGER_CLUSTER_PORT, peer: "pair" },
    // The two Loki form one ring (docs/ha-pair.md): memberlist gossip, and gRPC between distributors, ingesters,
    // queriers, schedulers and the compactor.
    { description: `Loki memberlist ${loki.memberlist}/tcp within the pair`, protocol: "tcp", port: loki.memberlist, peer: "pair" },
    { description: `Loki memberlist ${loki.memberlist}/udp within the pair`, protocol: "udp", port: loki.memberlist, peer: "pair" },
    { description: `Loki gRPC ${loki.grpc} within the pair`, protocol: "tcp", port: loki.grpc, peer: "pair" },
  ];
}

/** OTLP through the load balancer: its listeners' traffic and its TCP health checks, from its security group. */
export function loadBalancerIngressRules(): PairRule[] {
  return OTLP_PORTS.map((port) => ({ description: `OTLP ${port} through the load balancer (traffic and health checks)`, protocol: "tcp", port, peer: "loadBalancer" }));
}

/** The host group's rules of a pair, ingress and egress, in the form the quota check counts (a group reference). */
export function pairRulesForQuota(cfg: Pick<StackConfig, "hosts">): { inbound: SecurityGroupRule[]; outbound: SecurityGroupRule[] } {
  if (cfg.hosts !== 2) return { inbound: [], outbound: [] };
  const asRule = (r: PairRule): SecurityGroupRule => ({ description: r.description, port: r.port, securityGroupId: r.peer });
  return { inbound: [...pairPeerRules(), ...loadBalancerIngressRules()].map(asRule), outbound: pairPeerRules().map(asRule) };
}
