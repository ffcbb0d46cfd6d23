/** How admins reach the host: `accessMode` (ssm or ssh), `sshUser`, `sshAdminCidrs`, `sshAuthorizedKeys`. */
import { ConfigProblems, reportDuplicates, show } from "../config-problems";
import type { Reader } from "../reader";
import { ACCESS_MODES } from "../stack-config";
import { FORBIDDEN_SSH_USERS, sshPublicKeyProblem } from "../value-checks";

export function readAccess(r: Reader, p: ConfigProblems, k: (key: string) => string) {
  const mode = r.oneOf("accessMode", ACCESS_MODES, { required: true });
  const sshUser = r.string("sshUser", { required: true });
  if (sshUser !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(sshUser)) {
    p.add(k("sshUser"), `${show(sshUser)} is not a valid Linux user name (lower-case letters, digits, _ and -, at most 32, not starting with a digit)`);
  } else if (sshUser !== undefined && FORBIDDEN_SSH_USERS.includes(sshUser)) {
    p.add(
      k("sshUser"),
      sshUser === "root"
        ? `"root" cannot log in (the host sets PermitRootLogin no); use ec2-user or a personal account, which gets sudo`
        : `${show(sshUser)} is a service user of the host (it would get NOPASSWD sudo and own that service's data); not allowed: ${FORBIDDEN_SSH_USERS.join(", ")}`,
    );
  }
  const adminCidrs = r.cidrList("sshAdminCidrs");
  if (mode === "ssh" && adminCidrs.length === 0) {
    p.add(k("sshAdminCidrs"), `is empty, but accessMode is "ssh": list the admin networks allowed to reach port 22, or use accessMode "ssm" (no open port)`);
  }
  if (mode === "ssm" && adminCidrs.length > 0) {
    p.add(k("sshAdminCidrs"), `is set, but accessMode is "ssm", which opens no ssh port; remove the CIDRs or set accessMode to "ssh"`);
  }
  const authorizedKeys = r.stringList("sshAuthorizedKeys");
  authorizedKeys.forEach((key, i) => {
    const problem = sshPublicKeyProblem(key);
    if (problem) p.add(`${k("sshAuthorizedKeys")}[${i}]`, `${show(key)} ${problem}`);
  });
  reportDuplicates(p, k("sshAuthorizedKeys"), authorizedKeys.map((key) => key.split(/\s+/).slice(0, 2).join(" ")));
  return { mode, sshUser, adminCidrs, authorizedKeys };
}
