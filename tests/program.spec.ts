/** The program itself (index.ts) under mocks, each run in a fresh process. */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { SENTINEL, secretValues } from "./support/stacks";

function runProgram(stack: string, overrides: Record<string, unknown> = {}): any {
  const r = spawnSync(process.execPath, ["--require", "tsx/cjs", path.join(__dirname, "support", "program-child.ts"), stack, JSON.stringify(overrides)], {
    encoding: "utf8",
    timeout: 120_000,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  assert.ok(line.startsWith("{"), `program run printed no result:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line);
}

const REQUIRED_OUTPUTS = ["instanceId", "privateIp", "dataVolumeId", "lokiBucket", "tempoBucket", "sshConfig", "sshCommand", "tunnels", "otlpCaCertificate", "otlpEndpoints"];

for (const stack of ["dev", "prd"]) {
  describe(`program (${stack})`, () => {
    let result: any;
    before(() => {
      result = runProgram(stack);
    });

    it("exports what on-call and application teams need", () => {
      assert.equal(result.error, undefined, JSON.stringify(result.error));
      for (const name of REQUIRED_OUTPUTS) assert.ok(result.outputs[name]?.value, `output ${name}`);
      assert.match(result.outputs.sshConfig.value, new RegExp(`^Host monitoring-hosts-`));
      assert.match(result.outputs.tunnels.value.grafana, /AWS-StartPortForwardingSession.*portNumber=3000/);
    });

    it("keeps secrets out of every non-secret output; the automation key is a secret output", () => {
      for (const [name, o] of Object.entries<any>(result.outputs)) {
        if (o.secret) continue;
        const text = JSON.stringify(o.value);
        for (const s of [...secretValues(stack), SENTINEL]) assert.ok(!text.includes(s), `secret in output ${name}`);
        assert.ok(!/PRIVATE KEY/.test(text), `private key in output ${name}`);
      }
      assert.equal(result.outputs.automationPrivateKey.secret, true);
    });
  });
}

describe("program with a config mistake", () => {
  it("stops before creating anything, with a RunError (no stack trace) listing every problem by key", () => {
    const result = runProgram("dev", { environment: "prod", otlpAllowedCidrs: ["0.0.0.0/0"] });
    assert.ok(result.error, "the program must refuse the config");
    assert.equal(result.resources, 0, "no resource was registered");
    assert.equal(result.error.runError, true, "RunError: Pulumi prints its message without a stack trace");
    assert.match(result.error.message, /monitoring-hosts:environment: "prod" is not allowed/);
    assert.match(result.error.message, /monitoring-hosts:otlpAllowedCidrs\[0\]: "0\.0\.0\.0\/0" opens the port to the whole internet/);
    assert.ok(!/\n\s+at /.test(result.error.message), "no stack frames in the message");
  });
});
