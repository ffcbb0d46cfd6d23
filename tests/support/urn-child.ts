/**
 * Runs index.ts under mocks in its own process and prints one JSON line: every resource the program registers, in
 * registration order (a parent before its children), with its URN, its parent's URN and the aliases it declares,
 * as the engine's resource monitor receives them. tests/urns.spec.ts replays the engine's alias matching on it.
 * argv: <stack> [overrides as JSON]
 */
import * as pulumi from "@pulumi/pulumi";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks");
import { settle } from "./mocks";
import { programConfig } from "./stacks";

/** An alias as declared: an old URN, or a spec whose empty fields mean "as the resource itself". */
export interface DeclaredAlias {
  urn?: string;
  name?: string;
  type?: string;
  parentUrn?: string;
  noParent?: boolean;
  project?: string;
  stack?: string;
}

export interface Registration {
  /** The URN the engine gives it (see engineUrn). */
  urn: string;
  type: string;
  name: string;
  /** The engine URN of its parent; "" at the top. */
  parent: string;
  aliases: DeclaredAlias[];
}

const registrations: Registration[] = [];
/** Mock URN → engine URN. */
const engineUrns = new Map<string, string>();

/**
 * The URN the engine gives a resource: its parent's whole qualified type chain, then its own type and name
 * (pulumi/pulumi pkg/resource/deploy/step_generator.go `generateURN`). The mock monitor keeps only the parent's last
 * type, so a change of grandparent would go unnoticed with its URNs.
 */
function engineUrn(parent: string, type: string, name: string): string {
  const qualifiedType = (urn: string) => urn.split("::")[2];
  const prefix = parent ? `${qualifiedType(parent)}$` : "";
  return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${prefix}${type}::${name}`;
}

// The mock monitor hands `newResource` only type, name and inputs: read parent and aliases off the request itself.
const registerResource = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (req: any, callback: (err: unknown, resp: any) => void) {
  const toEngine = (mockUrn: string) => {
    if (!mockUrn) return "";
    const urn = engineUrns.get(mockUrn);
    if (!urn) throw new Error(`parent ${mockUrn} registered after its child`);
    return urn;
  };
  const aliases: DeclaredAlias[] = req.getAliasesList().map((a: any) => {
    if (a.hasSpec()) {
      const s = a.getSpec();
      return { name: s.getName(), type: s.getType(), parentUrn: toEngine(s.getParenturn()), noParent: s.getNoparent(), project: s.getProject(), stack: s.getStack() };
    }
    return { urn: a.getUrn() };
  });
  if (req.getAliasurnsList().length) throw new Error("alias URNs without specs: the monitor announces alias specs");
  const parent = toEngine(req.getParent());
  const urn = engineUrn(parent, req.getType(), req.getName());
  return registerResource.call(this, req, (err: unknown, resp: any) => {
    if (!err) {
      engineUrns.set(resp.getUrn(), urn);
      registrations.push({ urn, type: req.getType(), name: req.getName(), parent, aliases });
    }
    callback(err, resp);
  });
};

const [stack, overridesJson] = process.argv.slice(2);
// The stack's own name (tests/support/mocks.ts says "test"): the URNs and names are the ones `pulumi up` would use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require("@pulumi/pulumi/runtime/settings")._setStack(stack);
const { config, secretKeys } = programConfig(stack, overridesJson ? JSON.parse(overridesJson) : {});
pulumi.runtime.setAllConfig(config, secretKeys);

(async () => {
  const program: Record<string, unknown> = require("../../index");
  // Every output resolved: every resource whose registration waits on another's outputs has registered.
  for (const value of Object.values(program)) {
    const out: pulumi.Output<unknown> = pulumi.output(value as pulumi.Input<unknown>);
    await new Promise((resolve) => out.apply((x) => { resolve(x); return x; }));
  }
  await settle();
  console.log(JSON.stringify(registrations));
})();
