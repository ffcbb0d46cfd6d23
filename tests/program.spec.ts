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
        const text = JSON.stringify(o.value) ?? ""; // undefined: an output the stack does not have (a single host's pair outputs)
        for (const s of [...secretValues(stack), SENTINEL]) assert.ok(!text.includes(s), `secret in output ${name}`);
        assert.ok(!/PRIVATE KEY/.test(text), `private key in output ${name}`);
      }
      assert.equal(result.outputs.automationPrivateKey.secret, true);
    });
  });
}

for (const stack of ["dev", "prd"]) {
  describe(`program (${stack}, HA pair with remoteWrite)`, () => {
    it("exports the load balancer's DNS name as the OTLP endpoint, and each host's ids and access", () => {
      const result = runProgram(stack, { hosts: 2, secondSubnetId: "subnet-00000000000000001", remoteWrite: { workspace: "create" } });
      assert.equal(result.error, undefined, JSON.stringify(result.error));
      for (const name of REQUIRED_OUTPUTS) assert.ok(result.outputs[name]?.value, `output ${name}`);
      const dns: string = result.outputs.otlpLoadBalancerDnsName.value;
      assert.match(dns, /\.elb\.eu-west-1\.amazonaws\.com$/);
      assert.equal(result.outputs.otlpEndpoints.value.grpc, `https://${dns}:4317`);
      const hosts = result.outputs.pairHosts.value;
      assert.equal(hosts.length, 2);
      assert.notEqual(hosts[0].instanceId, hosts[1].instanceId);
      assert.notEqual(hosts[0].privateIp, hosts[1].privateIp);
      // The program's stack is the mocks' ("test"): one block per host, the second's alias ending in -1.
      assert.match(result.outputs.sshConfig.value, /^Host (monitoring-hosts-\S+)\n[\s\S]*\nHost \1-1\n/);
      for (const [name, o] of Object.entries<any>(result.outputs)) {
        if (!o.secret) for (const s of [...secretValues(stack), SENTINEL]) assert.ok(!JSON.stringify(o.value).includes(s), `secret in output ${name}`);
      }
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
