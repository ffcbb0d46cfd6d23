/**
 * Runs index.ts under mocks in its own process (a program can be loaded once per process) and prints one JSON
 * line: every stack output with whether it is secret, or the error the program stopped with.
 * argv: <stack> [overrides as JSON]
 */
import * as pulumi from "@pulumi/pulumi";
import { resources, settle } from "./mocks";
import { programConfig } from "./stacks";

const [stack, overridesJson] = process.argv.slice(2);
const { config, secretKeys } = programConfig(stack, overridesJson ? JSON.parse(overridesJson) : {});
pulumi.runtime.setAllConfig(config, secretKeys);

(async () => {
  let program: Record<string, unknown>;
  try {
    program = require("../../index");
  } catch (e) {
    await settle();
    console.log(JSON.stringify({ resources: resources.length, error: { runError: pulumi.RunError.isInstance(e), message: (e as Error).message } }));
    return;
  }
  const outputs: Record<string, { secret: boolean; value: unknown }> = {};
  for (const [name, value] of Object.entries(program)) {
    const out: pulumi.Output<unknown> = pulumi.output(value as pulumi.Input<unknown>);
    const v = await new Promise((resolve) => out.apply((x) => { resolve(x); return x; }));
    outputs[name] = { secret: await pulumi.isSecret(out), value: v };
  }
  await settle();
  console.log(JSON.stringify({ outputs }));
})();
