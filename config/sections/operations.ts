/**
 * Operations: `snapshotRetentionDays`, the EC2-level host alarm path (`hostAlarmEmails`, `hostAlarmPagerUrl`) that
 * must reach someone in prd, and `verifyDeploy`.
 */
import { type ConfigProblems, reportDuplicates, show } from "../config-problems";
import type { LoadOptions, Reader } from "../reader";
import type { StackConfig } from "../stack-config";

export function readOperations(
  r: Reader,
  p: ConfigProblems,
  k: (key: string) => string,
  isProduction: boolean,
  options: LoadOptions,
): Partial<StackConfig["operations"]> {
  const snapshotRetentionDays = r.integer("snapshotRetentionDays", 1, 365);
  if (isProduction && snapshotRetentionDays !== undefined && snapshotRetentionDays < 7) {
    p.add(k("snapshotRetentionDays"), `${snapshotRetentionDays} is too short for prd; allowed: 7 to 365`);
  }
  const hostAlarmEmails = r.stringList("hostAlarmEmails");
  hostAlarmEmails.forEach((e, i) => {
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e)) p.add(`${k("hostAlarmEmails")}[${i}]`, `${show(e)} must be an email address`);
  });
  reportDuplicates(p, k("hostAlarmEmails"), hostAlarmEmails);
  const hostAlarmPagerUrl = r.secret("hostAlarmPagerUrl", options, {
    optional: true,
    check: (v) => (/^https:\/\/\S+$/.test(v) ? undefined : "must be an https:// URL"),
  });
  if (isProduction && hostAlarmEmails.length === 0 && hostAlarmPagerUrl === undefined) {
    p.add(
      k("hostAlarmEmails"),
      "is empty and hostAlarmPagerUrl is unset: in prd nobody would hear that the monitoring host itself died; add an address or a pager URL",
    );
  }
  return { snapshotRetentionDays, hostAlarmEmails, hostAlarmPagerUrl, verifyDeploy: r.boolean("verifyDeploy", true) };
}
