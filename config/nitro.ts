/**
 * Which EC2 instance types run on Xen rather than the Nitro System, as data. The host mounts the data volume by the
 * link udev makes for an EBS volume exposed as NVMe (`/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol…`,
 * docs/host-bootstrap.md); only Nitro instances expose EBS as NVMe, so on a Xen type the link never appears, the
 * mount fails and no stateful service starts. The loader refuses such a type before any resource exists.
 *
 * Sources (no AWS call: the lists are AWS's own, copied as data):
 * - AWS, Amazon EC2 User Guide, "Instance types", section "Hypervisor type"
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-types.html#instance-hypervisor-type), read through a
 *   saved copy of that page in the search index (the AWS page itself was not reachable from here). Quoted:
 *     "Xen-based instances
 *      * General purpose: M1 | M2 | M3 | M4 | T1 | T2
 *      * Compute optimized: C1 | C3 | C4
 *      * Memory optimized: R3 | R4 | X1 | X1e
 *      * Storage optimized: D2 | H1 | I2 | I3
 *      * Accelerated computing: F1 | G3 | P2 | P3"
 *   The same section lists P3dn (a family of its own, `p3dn.24xlarge`) and A1 among the Nitro-based instances.
 * - The exception i3.metal: the earlier wording of the same AWS page ("Instances built on the Nitro System", anchor
 *   #ec2-nitro-instances) listed under "Bare metal" `i3.metal`, while I3 stays a Xen family. Seen only in copies
 *   quoting that page (cloudposse/terraform-aws-service-control-policies catalog/ec2-policies.yaml, whose Nitro
 *   allow-list cites that URL and names `i3.metal` and `p3dn.24xlarge` as the only members of Xen families; a
 *   course note quoting the page's "Bare metal: … i3.metal …" list), not in an AWS original fetched here.
 * - Families the provider's enum still knows but the page above no longer names (cc1, cc2, cg1, cr1, g2, hi1, hs1)
 *   and g3s (the G3 family's xlarge size, `g3s.xlarge`): all launched before 2017, and AWS's Nitro whitepaper says the
 *   Nitro System started "with the C5 instance type introduced in 2017"
 *   (https://docs.aws.amazon.com/whitepapers/latest/security-design-of-aws-nitro-system/the-nitro-system-journey.html);
 *   the 2015 edition of the instance-types page (API version 2015-04-15) lists CC2, CG1, CR1, G2, HS1 and HI1.
 */

import { TOO_SMALL_SIZES } from "./value-checks";

/** Xen-based families (the part of the instance type before the dot), with the Nitro family to pick instead. */
export const XEN_FAMILIES: Readonly<Record<string, string>> = {
  // AWS's "Xen-based instances" list, family by family.
  m1: "m7i",
  m2: "r7i",
  m3: "m7i",
  m4: "m7i",
  t1: "t3",
  t2: "t3",
  c1: "c7i",
  c3: "c7i",
  c4: "c7i",
  r3: "r7i",
  r4: "r7i",
  x1: "x2iedn",
  x1e: "x2iedn",
  d2: "d3",
  h1: "d3en",
  i2: "i4i",
  i3: "i4i",
  f1: "f2",
  g3: "g4dn",
  g3s: "g4dn",
  p2: "g4dn",
  p3: "p3dn",
  // Pre-Nitro families the provider's enum still knows (see the sources above).
  cc1: "c7i",
  cc2: "c7i",
  cg1: "g4dn",
  cr1: "r7i",
  g2: "g4dn",
  hi1: "i4i",
  hs1: "d3en",
};

/** Types of a Xen family that are built on the Nitro System (AWS's "Bare metal" list). */
export const NITRO_EXCEPTIONS: ReadonlySet<string> = new Set(["i3.metal"]);

/** True when `instanceType` (family.size) runs on Xen, so it has no NVMe by-id link for the data volume. */
export function isXenType(instanceType: string): boolean {
  const family = instanceType.split(".")[0];
  return Object.hasOwn(XEN_FAMILIES, family) && !NITRO_EXCEPTIONS.has(instanceType);
}

/**
 * A Nitro type to suggest instead of the Xen type `instanceType`: the successor family at the same size when the
 * provider knows it, else the successor's first size that is large enough for six services.
 */
export function nitroAlternative(instanceType: string, known: readonly string[]): string {
  const [family, size] = instanceType.split(".");
  const successor = XEN_FAMILIES[family];
  const sizes = known.filter((t) => t.startsWith(`${successor}.`) && !TOO_SMALL_SIZES.includes(t.split(".")[1]));
  if (sizes.includes(`${successor}.${size}`)) return `${successor}.${size}`;
  return sizes.find((t) => t.endsWith(".large")) ?? sizes.find((t) => t.endsWith(".xlarge")) ?? sizes[0];
}
