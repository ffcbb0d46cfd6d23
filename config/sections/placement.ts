/** Where the hosts go: `aws:region`, `vpcId`, `subnetId`, and for an HA pair `hosts` and `secondSubnetId`. */
import { Region as AWS_REGIONS } from "@pulumi/aws/types/enums";
import { ConfigProblems, didYouMean, show } from "../config-problems";
import type { Reader } from "../reader";
import { HOST_COUNTS, type HostCount, type StackConfig } from "../stack-config";

const SUBNET_ID = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;

export function readPlacement(r: Reader, p: ConfigProblems, k: (key: string) => string) {
  const region = r.string("aws:region", { required: true, qualified: true });
  const regions = Object.values(AWS_REGIONS) as string[];
  if (region !== undefined && !regions.includes(region)) {
    p.add("aws:region", `${show(region)} is not an AWS region; allowed: a region the AWS provider knows (like eu-west-1 or us-east-1)${didYouMean(region, regions)}`);
  }

  const vpcId = r.string("vpcId", { required: true });
  if (vpcId !== undefined && !/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/.test(vpcId)) {
    p.add(k("vpcId"), `${show(vpcId)} is not a VPC id (vpc- followed by 8 or 17 hex digits)`);
  }
  const subnetId = r.string("subnetId", { required: true });
  if (subnetId !== undefined && !SUBNET_ID.test(subnetId)) {
    p.add(k("subnetId"), `${show(subnetId)} is not a subnet id (subnet- followed by 8 or 17 hex digits)`);
  }
  return { region, vpcId, subnetId, ...readHosts(r, p, k, subnetId) };
}

/**
 * `hosts` (1 or 2) and, for a pair, `secondSubnetId`: a subnet id other than `subnetId`. That the two subnets lie in
 * different availability zones needs an AWS lookup; the stack checks it at preview (pairSubnetsProblem), before the
 * second host's resources are created.
 */
function readHosts(r: Reader, p: ConfigProblems, k: (key: string) => string, subnetId: string | undefined): { hosts?: HostCount; secondSubnetId?: string } {
  const raw = r.raw("hosts");
  const n = raw === undefined ? 1 : typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  const hosts = (HOST_COUNTS as readonly number[]).includes(n) ? (n as HostCount) : undefined;
  if (hosts === undefined) {
    p.add(k("hosts"), `${show(raw)} is not allowed; allowed: 1 (one host) or 2 (an HA pair in two availability zones, docs/ha-pair.md)`);
  }
  const secondSubnetId = r.string("secondSubnetId");
  if (hosts === 2 && secondSubnetId === undefined) {
    p.add(k("secondSubnetId"), "is required with hosts: 2: the second host's private subnet, in another availability zone than subnetId's");
  } else if (hosts === 1 && secondSubnetId !== undefined) {
    p.add(k("secondSubnetId"), "is set, but hosts is 1: remove it, or set hosts to 2 for an HA pair (docs/ha-pair.md)");
  } else if (secondSubnetId !== undefined && !SUBNET_ID.test(secondSubnetId)) {
    p.add(k("secondSubnetId"), `${show(secondSubnetId)} is not a subnet id (subnet- followed by 8 or 17 hex digits)`);
  } else if (secondSubnetId !== undefined && secondSubnetId === subnetId) {
    p.add(
      k("secondSubnetId"),
      `is ${secondSubnetId}, the same subnet as subnetId: the pair's second host needs a subnet in another availability zone, so one zone's outage leaves one host up`,
    );
  }
  return { hosts, ...(hosts === 2 && secondSubnetId !== undefined ? { secondSubnetId } : {}) };
}

/**
 * The pair's subnets must lie in two availability zones (otherwise one zone's outage takes both hosts) and in the
 * stack's VPC (the load balancer's subnets, its target groups and the hosts' security group are all in `vpcId`):
 * known only from AWS (the subnets' zones and VPCs), so checked where the stack looks the subnets up
 * (components/network.ts).
 */
export function pairSubnetsProblem(
  cfg: Pick<StackConfig, "project" | "vpcId" | "subnetId" | "secondSubnetId">,
  subnets: [{ availabilityZone: string; vpcId: string }, { availabilityZone: string; vpcId: string }],
): string | undefined {
  const [first, second] = subnets;
  if (second.vpcId !== cfg.vpcId) {
    return `${cfg.project}:secondSubnetId: ${cfg.secondSubnetId} is in ${second.vpcId}, not in vpcId ${cfg.vpcId}: choose a private subnet of ${cfg.vpcId} in another availability zone than subnetId's`;
  }
  if (first.availabilityZone !== second.availabilityZone) return undefined;
  return (
    `${cfg.project}:secondSubnetId: ${cfg.secondSubnetId} is in availability zone ${second.availabilityZone}, like subnetId ${cfg.subnetId}: ` +
    "the pair's two hosts need subnets in two availability zones; choose a subnet of another zone"
  );
}
