/** Where the host goes: `aws:region`, `vpcId`, `subnetId`. */
import { Region as AWS_REGIONS } from "@pulumi/aws/types/enums";
import { ConfigProblems, didYouMean, show } from "../config-problems";
import type { Reader } from "../reader";

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
  if (subnetId !== undefined && !/^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/.test(subnetId)) {
    p.add(k("subnetId"), `${show(subnetId)} is not a subnet id (subnet- followed by 8 or 17 hex digits)`);
  }
  return { region, vpcId, subnetId };
}
