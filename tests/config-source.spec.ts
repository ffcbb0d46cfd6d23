/**
 * Where stack configuration comes from (config/config-source.ts): the stack files as the CLI reads them, secrets
 * included, and the Pulumi.yaml schema that declares the keys the loader reads.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { FileConfigSource } from "../config/config-source";
import { KNOWN_KEYS, loadStackConfig } from "../config/loader";

describe("stack files with encrypted secrets (offline render of a real stack)", () => {
  it("reads whole-value and --path secrets as present but unreadable, and as secret", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stackfile-"));
    try {
      fs.copyFileSync(path.join(__dirname, "..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
      const stackFile = fs.readFileSync(path.join(__dirname, "..", "Pulumi.prd.yaml"), "utf8");
      fs.writeFileSync(
        path.join(dir, "Pulumi.prd.yaml"),
        stackFile +
          "  monitoring-hosts:grafanaAdminPassword:\n    secure: v1:AAAABBBBCCCC\n" +
          "  monitoring-hosts:alertReceiverSecrets:\n" +
          "    oncall-pagerduty:\n      secure: v1:DDDD\n    team-slack:\n      secure: v1:EEEE\n    team-email:\n      secure: v1:FFFF\n",
      );
      const source = new FileConfigSource("prd", dir);
      assert.equal(source.isSecret("monitoring-hosts:alertReceiverSecrets"), true);
      // Loads even when secrets are required: they are present, only not decryptable here.
      const cfg = loadStackConfig(source, { requireSecrets: true });
      assert.equal(cfg.grafanaAdminPassword.readable, false);
      assert.deepEqual(
        cfg.alerting.receivers.map((r) => [r.name, r.secret?.readable]),
        [["oncall-pagerduty", false], ["team-slack", false], ["team-email", false]],
      );
      assert.ok(!JSON.stringify(source.engineConfig()).includes("v1:"), "encrypted values are never passed on as values");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Pulumi.yaml config schema", () => {
  const project = YAML.parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8"));
  /** Keys the CLI must refuse to run without (no default): the user supplies them. */
  const REQUIRED = ["environment", "vpcId", "subnetId", "grafanaAdminPassword"];

  it("declares every scalar key with a type and a description; only truly required keys lack a default", () => {
    for (const [key, decl] of Object.entries<any>(project.config)) {
      assert.ok(["string", "integer", "boolean", "array"].includes(decl.type), `${key}: type`);
      assert.ok(decl.description, `${key}: description`);
      if (decl.type === "array") assert.ok(decl.items?.type, `${key}: items`);
      assert.equal("default" in decl, !REQUIRED.includes(key), `${key}: the CLI requires keys without a default`);
    }
  });

  it("declares every key the loader reads except the structured ones (which the schema cannot type)", () => {
    const known: readonly string[] = KNOWN_KEYS;
    const structured = ["alertReceivers", "alertReceiverSecrets", "slos", "logAlerts", "appScrapeTargets", "tags", "remoteWrite", "releaseDigests"];
    assert.deepEqual(known.filter((k) => !structured.includes(k)).sort(), Object.keys(project.config).sort());
  });
});
