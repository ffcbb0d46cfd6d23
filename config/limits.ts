/**
 * Limits of AWS and of the services, each with where it comes from: the loader refuses values beyond them before
 * anything is created, because AWS would refuse them only mid-deploy.
 */

/** Safe minimums: below these the services do not fit (root) or Prometheus' size-based retention is useless. */
export const MIN_ROOT_VOLUME_GIB = 16;
export const MIN_DATA_VOLUME_GIB = 20;
/**
 * gp3 limits (Amazon EBS User Guide, "General Purpose SSD volumes", gp3 performance): 1 GiB to 64 TiB; 3,000 IOPS
 * included, up to 80,000 and at most 500 IOPS per GiB; 125 MiB/s included, up to 2,000 and at most 0.25 MiB/s per
 * provisioned IOPS. CreateVolume refuses anything else, after the rest of the stack was created.
 */
export const MAX_VOLUME_GIB = 65536;
export const GP3 = { minIops: 3000, maxIops: 80000, iopsPerGiB: 500, minThroughput: 125, maxThroughput: 2000, mibpsPerIops: 0.25 } as const;
/**
 * Inbound (and, separately, outbound) rules per security group: 60 by default, counted separately for IPv4 and
 * IPv6; a rule that references a security group counts once for each (Amazon VPC User Guide, "Amazon VPC quotas").
 */
export const SECURITY_GROUP_RULE_QUOTA = 60;
/**
 * The longest retention: Prometheus refuses `--storage.tsdb.retention.time=500y` ("duration out of range", checked
 * with prometheus 2.42), and Loki and Tempo take Go durations, which overflow at 2,562,047h (about 292 years).
 */
export const MAX_RETENTION_SECONDS = 100 * 365 * 86400;
/** Host secrets go to SSM Parameter Store as standard parameters, whose values hold at most 4 KB (Systems Manager quotas). */
export const SSM_STANDARD_VALUE_MAX_BYTES = 4096;
