/** Builds a MonitoringStack under the shared mocks and finds its recorded resources (tests of the components). */
import { strict as assert } from "assert";
import { byType, RecordedResource, settle, valueOf } from "./mocks";
import { MonitoringStack } from "../../components/monitoring-stack";
import { stackConfig } from "./stacks";

export interface Built {
  stack: MonitoringStack;
  prefix: string;
  of(type: string): RecordedResource[];
  one(type: string, nameSuffix?: string): RecordedResource;
}

export async function build(
  stackName: string,
  overrides: Record<string, unknown> = {},
  prefix = `monitoring-hosts-${stackName}`,
  secretOverrides: Record<string, unknown> = {},
): Promise<Built> {
  const stack = new MonitoringStack(prefix, { config: stackConfig(stackName, overrides, secretOverrides) });
  await valueOf(stack.sshConfig);
  await settle();
  const of = (type: string) => byType(type, `${prefix}-`);
  return {
    stack,
    prefix,
    of,
    one(type, nameSuffix = "") {
      const found = of(type).filter((r) => r.name.endsWith(nameSuffix));
      assert.equal(found.length, 1, `expected one ${type} ending in "${nameSuffix}", got ${found.map((r) => r.name).join(", ")}`);
      return found[0];
    },
  };
}

