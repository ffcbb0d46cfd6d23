/**
 * Components as pulumi-awsx and pulumi-eks write them (issue 14): every public output registered with
 * `registerOutputs` (what `pulumi stack --show-urns` and the state show for the component), and no two children of
 * one parent with one name (children named by their role). Under the shared mocks, for a single host and a pair.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { settle, valueOf } from "./support/mocks";
import { MonitoringStack } from "../components/monitoring-stack";
import { stackConfig } from "./support/stacks";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getStore } = require("@pulumi/pulumi/runtime/state");

/** What the mock monitor recorded for a resource: registerResourceOutputs replaces its state with the outputs. */
function registeredOutputKeys(urn: string): string[] {
  const entry = getStore().settings.monitor.resources.get(urn) as { state: { toJavaScript?: () => object } } | undefined;
  assert.ok(entry, `no resource ${urn}`);
  const state = typeof entry.state.toJavaScript === "function" ? entry.state.toJavaScript() : entry.state;
  return Object.keys(state);
}

/**
 * A component's public outputs: its own fields that are set (ComponentResource's internals start with `__`; `urn` is
 * the SDK's; `parts` holds the child components themselves).
 */
function publicOutputs(c: pulumi.ComponentResource): string[] {
  return Object.entries(c)
    .filter(([k, v]) => !k.startsWith("_") && k !== "urn" && k !== "parts" && v !== undefined)
    .map(([k]) => k);
}

/** MonitoringStack's child components (stack.parts holds them, some optional). */
function childComponents(stack: MonitoringStack): pulumi.ComponentResource[] {
  return (Object.values(stack.parts) as unknown[]).filter((p): p is pulumi.ComponentResource => p instanceof pulumi.ComponentResource);
}

const PAIR = { hosts: 2, secondSubnetId: "subnet-00000000000000001" };

for (const [label, stackName, overrides] of [
  ["dev", "dev", {}],
  ["prd pair with remoteWrite", "prd", { ...PAIR, remoteWrite: { workspace: "create" } }],
] as const) {
  describe(`components register every public output, and name children by role (${label})`, () => {
    const prefix = `outputs-${stackName}${"hosts" in overrides ? "-pair" : ""}`;
    let stack: MonitoringStack;
    before(async () => {
      stack = new MonitoringStack(prefix, { config: stackConfig(stackName, overrides) });
      await valueOf(stack.sshConfig);
      await settle();
    });

    it("MonitoringStack and each of its parts list every public output in registerOutputs", async () => {
      const parts = childComponents(stack);
      assert.ok(parts.length >= 9, `${parts.length} parts`);
      for (const c of [stack, ...parts]) {
        const urn = await valueOf(c.urn);
        const registered = registeredOutputKeys(urn);
        const missing = publicOutputs(c).filter((k) => !registered.includes(k));
        assert.deepEqual(missing, [], `${urn.split("::").pop()}: public outputs not registered`);
      }
    });

    it("the stack's child components have names of their own (named by role, not shared across types)", async () => {
      const urns = await Promise.all(childComponents(stack).map((c) => valueOf(c.urn)));
      const names = urns.map((u) => u.split("::").pop()!);
      const shared = names.filter((n, i) => names.indexOf(n) !== i);
      assert.deepEqual(shared, [], `components sharing a name: ${urns.filter((u) => shared.includes(u.split("::").pop()!)).join(", ")}`);
    });
  });
}
