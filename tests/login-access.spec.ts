/**
 * What on-call's login users can do on the host, with the real programs (issue 13): `sudo promtool …` finds the
 * host's binaries (the sudoers drop-in's secure_path), and the apply step puts the ssh user and the SSM session user
 * into the journal's group so `journalctl -u <unit>` works without sudo. Both run against a copy of this machine's
 * /etc bind-mounted over /etc in a private mount namespace: real sudo, visudo, useradd, usermod and id, and nothing
 * of the machine itself changes.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { hostScript } from "../hostfiles/templates";
import { buildBundle } from "../hostfiles/bundle";
import { renderHostFiles } from "../hostfiles/host-files";
import { BIN_DIR, JOURNAL_GROUP, SSM_SESSION_USER, SUDO_SECURE_PATH, SUDOERS_DROP_IN } from "../hostfiles/ssh-access";
import { placeholderBundleContext } from "../layout/host-file";
import { stackConfig } from "./support/stacks";
import { requireTool, run, tempDir } from "./support/validators";

/** Runs `script` (bash) as root in a private mount namespace whose /etc is a copy of this machine's. */
function inPrivateEtc(ctx: Mocha.Context, dir: string, script: string) {
  if (process.getuid?.() !== 0 || run("unshare", ["--mount", "--fork", "true"]).status !== 0) {
    const msg = "needs root and unshare(1) for a private /etc";
    if (process.env.CI) throw new Error(msg);
    console.warn(`\n  !!! SKIPPED: ${msg}\n`);
    ctx.skip();
  }
  const etc = path.join(dir, "etc");
  const r = run("cp", ["-a", "/etc", etc]);
  assert.equal(r.status, 0, r.stderr);
  return run("unshare", ["--mount", "--fork", "bash", "-c", `set -euo pipefail; mount --make-rprivate /; mount --bind "$1" /etc; ${script}`, "bash", etc], { timeoutMs: 60_000 });
}

describe("login access: sudo finds the host's tools, on-call's users read the journal", () => {
  for (const stack of ["dev", "prd"]) {
    it(`${stack}: the sudoers drop-in passes visudo and gives sudo a PATH with ${BIN_DIR}`, function () {
      requireTool(this, "visudo");
      requireTool(this, "sudo");
      const cfg = stackConfig(stack);
      const file = renderHostFiles(cfg, placeholderBundleContext(stack)).find((f) => f.path === SUDOERS_DROP_IN);
      assert.ok(file, `no ${SUDOERS_DROP_IN} in the bundle`);
      assert.equal(file.mode, "0440");
      assert.equal(file.owner, "root:root");
      const t = tempDir("login-sudo-");
      try {
        const local = path.join(t.dir, "drop-in");
        fs.writeFileSync(local, file.content, { mode: 0o440 });
        const check = run("visudo", ["-c", "-f", local]);
        assert.equal(check.status, 0, check.stdout + check.stderr);
        // A tool in BIN_DIR only: without the drop-in, sudo's secure_path would not find it.
        const tool = "monitoring-probe-tool";
        const res = inPrivateEtc(
          this,
          t.dir,
          `install -m 0440 "${local}" "${SUDOERS_DROP_IN}"
           grep -q '^[@#]includedir /etc/sudoers.d' /etc/sudoers
           mkdir -p "${BIN_DIR}"
           d="$(dirname "$1")/bin-overlay"; mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; cp -a "${BIN_DIR}/." "$d/"; mount --bind "$d" "${BIN_DIR}"
           printf '#!/bin/sh\\necho found\\n' > "${BIN_DIR}/${tool}"; chmod 0755 "${BIN_DIR}/${tool}"
           sudo -n sh -c 'echo "PATH=$PATH"'
           sudo -n ${tool}`,
        );
        assert.equal(res.status, 0, res.stdout + res.stderr);
        assert.ok(res.stdout.includes(`PATH=${SUDO_SECURE_PATH}\n`), res.stdout);
        assert.ok(res.stdout.includes("found\n"), res.stdout);
      } finally {
        t.cleanup();
      }
    });
  }

  it("the apply step adds the existing login users to the journal's group, once, and skips a user not created yet", function () {
    requireTool(this, "useradd");
    requireTool(this, "usermod");
    const cfg = stackConfig("dev", { sshUser: "oncall" });
    const bundle = buildBundle(cfg, placeholderBundleContext("dev"));
    assert.deepEqual(bundle.loginGroups, [
      { user: "oncall", group: JOURNAL_GROUP },
      { user: SSM_SESSION_USER, group: JOURNAL_GROUP },
    ]);
    const t = tempDir("login-groups-");
    try {
      fs.writeFileSync(path.join(t.dir, "bundle.json"), JSON.stringify(bundle));
      fs.writeFileSync(path.join(t.dir, "apply.sh"), hostScript("monitoring-apply.sh"));
      const res = inPrivateEtc(
        this,
        t.dir,
        `getent group ${JOURNAL_GROUP} >/dev/null || groupadd --system ${JOURNAL_GROUP}
         id -u oncall >/dev/null 2>&1 && userdel oncall; id -u ${SSM_SESSION_USER} >/dev/null 2>&1 && userdel ${SSM_SESSION_USER}
         useradd --no-create-home oncall
         source "${t.dir}/apply.sh"
         ensure_login_groups "${t.dir}/bundle.json"
         echo "oncall: $(id -nG oncall)"
         # The SSM agent creates its user later; the next apply adds it, and changes nothing for the first.
         useradd --no-create-home ${SSM_SESSION_USER}
         ensure_login_groups "${t.dir}/bundle.json"
         echo "${SSM_SESSION_USER}: $(id -nG ${SSM_SESSION_USER})"
         grep "^${JOURNAL_GROUP}:" /etc/group`,
      );
      assert.equal(res.status, 0, res.stdout + res.stderr);
      assert.match(res.stdout, new RegExp(`^oncall: .*\\b${JOURNAL_GROUP}\\b`, "m"));
      assert.match(res.stdout, new RegExp(`^${SSM_SESSION_USER}: .*\\b${JOURNAL_GROUP}\\b`, "m"));
      const logs = res.stdout + res.stderr;
      assert.match(logs, new RegExp(`login user ${SSM_SESSION_USER} does not exist yet`));
      assert.equal(logs.match(/added login user oncall to group/g)?.length, 1, logs);
      const members = res.stdout.trim().split("\n").pop()!.split(":")[3].split(",");
      assert.deepEqual(members.sort(), ["oncall", SSM_SESSION_USER].sort());
    } finally {
      t.cleanup();
    }
  });
});
