/**
 * `instanceType` and `architecture`: an instance type that exists and fits six services, and an architecture that
 * matches it (derived from the type when unset). The type must be built on the Nitro System: the host finds its data
 * volume by the NVMe by-id link only Nitro instances have (config/nitro.ts).
 */
// The provider's own list of instance types (generated from its schema): no AWS call needed.
import { ec2 as ec2Enums } from "@pulumi/aws/types/enums";
import { ConfigProblems, didYouMean, show } from "../config-problems";
import type { Reader } from "../reader";
import { ARCHITECTURES, type Architecture } from "../stack-config";
import { isGravitonFamily, TOO_SMALL_SIZES } from "../value-checks";
import { isXenType, nitroAlternative } from "../nitro";

export function readInstance(r: Reader, p: ConfigProblems, k: (key: string) => string) {
  const instanceType = r.string("instanceType", { required: true });
  let architecture = r.oneOf("architecture", ARCHITECTURES, { required: true });
  if (instanceType !== undefined) {
    const m = /^([a-z][a-z0-9-]*)\.([a-z0-9]+)$/.exec(instanceType);
    const known = Object.values(ec2Enums.InstanceType) as string[];
    if (!m) {
      p.add(k("instanceType"), `${show(instanceType)} is not an EC2 instance type of the form family.size (like t3.large or m7g.xlarge)${didYouMean(instanceType, known)}`);
    } else if (!known.includes(instanceType)) {
      const family = m[1];
      const sizes = known.filter((t) => t.startsWith(`${family}.`)).map((t) => t.split(".")[1]);
      p.add(
        k("instanceType"),
        sizes.length > 0
          ? `${show(instanceType)} does not exist: family ${family} has sizes ${sizes.join(", ")}`
          : `${show(instanceType)} is not an EC2 instance type: there is no family ${show(family)}${didYouMean(instanceType, known)} (like t3.large or m7g.xlarge)`,
      );
    } else if (m[1].startsWith("mac")) {
      p.add(k("instanceType"), `${show(instanceType)} is a Mac instance (dedicated hosts, macOS only); Amazon Linux needs another family, like t3 or m7g`);
    } else {
      const [, family, size] = m;
      if (isXenType(instanceType)) {
        p.add(
          k("instanceType"),
          `${show(instanceType)} is a Xen-based type: the data volume is found by its NVMe by-id link ` +
            `(/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…), which only Nitro instances have; ` +
            `pick a Nitro type like ${nitroAlternative(instanceType, known)}`,
        );
      }
      if (TOO_SMALL_SIZES.includes(size)) {
        p.add(k("instanceType"), `${show(instanceType)} has too little memory for six services; use size medium or larger`);
      }
      const familyArch: Architecture = isGravitonFamily(family) ? "arm64" : "x86_64";
      if (architecture !== undefined && architecture !== familyArch) {
        p.add(
          k("architecture"),
          `is ${show(architecture)} but instance type ${instanceType} is ${familyArch}; set architecture to ${familyArch} or pick a matching instance type`,
        );
      }
      architecture ??= familyArch;
    }
  }
  return { instanceType, architecture };
}
