/**
 * Who may send telemetry: `otlpAllowedCidrs`, `otlpAllowedSecurityGroupIds` (the network side) and `otlpClients`
 * (one client certificate each).
 */
import { ConfigProblems, reportDuplicates, show } from "../config-problems";
import type { Reader } from "../reader";
import type { StackConfig } from "../stack-config";
import { OTLP_CLIENT_NAME } from "../value-checks";

export function readOtlp(r: Reader, p: ConfigProblems, k: (key: string) => string): StackConfig["otlp"] {
  const otlp = {
    allowedCidrs: r.cidrList("otlpAllowedCidrs"),
    allowedSecurityGroupIds: r.stringList("otlpAllowedSecurityGroupIds"),
    clients: r.stringList("otlpClients"),
  };
  otlp.clients.forEach((name, i) => {
    if (!OTLP_CLIENT_NAME.test(name)) {
      p.add(`${k("otlpClients")}[${i}]`, `${show(name)} must be lowercase letters, digits and dashes, starting with a letter, at most 63 characters (it names the client certificate and its SSM parameters)`);
    }
  });
  reportDuplicates(p, k("otlpClients"), otlp.clients);
  if (otlp.clients.length === 0) {
    p.add(k("otlpClients"), "is empty: the collector accepts only senders with a client certificate, so no application could send telemetry; list the applications (docs/security.md)");
  }
  otlp.allowedSecurityGroupIds.forEach((id, i) => {
    if (!/^sg-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id)) {
      p.add(`${k("otlpAllowedSecurityGroupIds")}[${i}]`, `${show(id)} is not a security group id (sg- followed by 8 or 17 hex digits)`);
    }
  });
  reportDuplicates(p, k("otlpAllowedSecurityGroupIds"), otlp.allowedSecurityGroupIds);
  if (otlp.allowedCidrs.length === 0 && otlp.allowedSecurityGroupIds.length === 0) {
    p.add(
      k("otlpAllowedCidrs"),
      "is empty and so is otlpAllowedSecurityGroupIds: no application could send telemetry; list the CIDRs or security groups of the applications",
    );
  }
  return otlp;
}
