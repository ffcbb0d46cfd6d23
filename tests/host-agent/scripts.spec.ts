/** Every shell script the host runs (host-agent/*.sh, as shipped in the bundle and in user data) passes shellcheck. */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { HOST_AGENT_DIR, hostScript, HostScriptName } from "../../hostfiles/templates";
import { buildBundle } from "../../hostfiles/bundle";
import { renderUserData } from "../../hostfiles/user-data";
import { placeholderBundleContext, placeholderUserDataContext } from "../../layout/host-file";
import { shellScripts } from "../../scripts/render";
import { stackConfig } from "../support/stacks";
import { requireTool, run, tempDir } from "../support/validators";
import { AGENT } from "../../layout/host-layout";

describe("host scripts", () => {
  for (const stack of ["dev", "prd"]) {
    it(`(${stack}) every shell script of the bundle and of the user data passes shellcheck`, function () {
      requireTool(this, "shellcheck");
      const cfg = stackConfig(stack);
      const ctx = placeholderBundleContext(stack);
      const scripts = shellScripts({ cfg, files: buildBundle(cfg, ctx).files, userData: renderUserData(cfg, placeholderUserDataContext(stack)), bundle: "", missingSecrets: [] });
      const names = scripts.map((x) => x.name);
      for (const p of [AGENT.syncScript, AGENT.applyScript, AGENT.secretsScript, `user-data:${AGENT.syncScript}`]) assert.ok(names.includes(p), p);
      const t = tempDir();
      try {
        scripts.forEach((x, i) => {
          const f = path.join(t.dir, `script-${i}.sh`);
          fs.writeFileSync(f, x.content);
          const res = run("shellcheck", [f]);
          assert.equal(res.status, 0, `${x.name}:\n${res.stdout}`);
        });
      } finally {
        t.cleanup();
      }
    });
  }

  it("all pass shellcheck", function () {
    requireTool(this, "shellcheck");
    const t = tempDir();
    try {
      for (const name of fs.readdirSync(HOST_AGENT_DIR) as HostScriptName[]) {
        const f = path.join(t.dir, name);
        fs.writeFileSync(f, hostScript(name));
        const res = run("shellcheck", [f]);
        assert.equal(res.status, 0, `${name}:\n${res.stdout}`);
      }
    } finally {
      t.cleanup();
    }
  });
});
