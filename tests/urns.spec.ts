/**
 * No URN changes without an alias (issue 14): a `pulumi up` after a refactoring must find every resource of the
 * last deployment, under its URN or an alias, so it updates in place instead of deleting and recreating it. The
 * recorded URNs (tests/fixtures/urns-*.json, recorded before issue 14's re-floor, tests/support/urns.ts) are the
 * "last deployment"; the program is run now under mocks and the engine's matching of new resources to old ones is
 * replayed on what it registers, aliases included. New resources are allowed.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type { DeclaredAlias, Registration } from "./support/urn-child";
import { inBatches, registrations, URN_VARIANTS } from "./support/urns";

const FIXTURES = path.join(__dirname, "fixtures");

const qualifiedType = (urn: string) => urn.split("::")[2];
const urnName = (urn: string) => urn.split("::").slice(3).join("::");

function createUrn(stack: string, project: string, parent: string, type: string, name: string): string {
  return `urn:pulumi:${stack}::${project}::${parent ? `${qualifiedType(parent)}$` : ""}${type}::${name}`;
}

/**
 * The engine's step generator (pulumi/pulumi pkg/resource/deploy/step_generator.go, `generateAliases`,
 * `collapseAliasToUrn`, `inheritedChildAlias`, and the old-state lookup in `generateSteps`): each registration is
 * matched to an old resource by its URN first, then by its aliases; a child inherits the alias its parent matched
 * (with the parent's old name as the prefix of its own name, when its name starts with the parent's). Returns the
 * old URN each new resource takes over and the errors the engine would report.
 */
function matchOldResources(old: Set<string>, regs: Registration[]): { claimed: Map<string, string>; errors: string[] } {
  const errors: string[] = [];
  const claimed = new Map<string, string>(); // old URN → new URN
  const matchedAlias = new Map<string, string>(); // new URN → the old URN it matched through an alias
  const newUrns = new Set(regs.map((r) => r.urn));
  for (const r of regs) {
    const stackName = r.urn.split("::")[0].slice("urn:pulumi:".length);
    const projectName = r.urn.split("::")[1];
    const collapse = (a: DeclaredAlias): string => {
      if (a.urn) return a.urn;
      let parent = a.parentUrn || r.parent;
      if (a.parentUrn && matchedAlias.has(a.parentUrn)) parent = matchedAlias.get(a.parentUrn)!;
      if (a.noParent) parent = "";
      return createUrn(a.stack || stackName, a.project || projectName, parent, a.type || r.type, a.name || r.name);
    };
    const inherited = (childType: string, childName: string, parentAlias: string): string => {
      const parentName = urnName(r.parent);
      const name = childName.startsWith(parentName) ? urnName(parentAlias) + childName.slice(parentName.length) : childName;
      return createUrn(stackName, projectName, parentAlias, childType, name);
    };
    const aliases = r.aliases.map(collapse);
    const parentAlias = r.parent ? matchedAlias.get(r.parent) : undefined;
    if (parentAlias) {
      aliases.push(inherited(r.type, r.name, parentAlias));
      for (const a of r.aliases.map(collapse)) aliases.push(inherited(qualifiedType(a).split("$").pop()!, urnName(a), parentAlias));
    }
    for (const candidate of [r.urn, ...aliases]) {
      if (!old.has(candidate)) continue;
      if (candidate !== r.urn) {
        if (newUrns.has(candidate)) errors.push(`${r.urn} aliases ${candidate}, which is registered itself`);
        if (claimed.has(candidate)) errors.push(`${r.urn} and ${claimed.get(candidate)} both alias ${candidate}`);
        matchedAlias.set(r.urn, candidate);
      }
      claimed.set(candidate, r.urn);
      break;
    }
  }
  return { claimed, errors };
}

describe("URNs: every resource of the last deployment is found again (its URN, or an alias)", function () {
  this.timeout(300_000);
  const runs = new Map<string, Registration[]>();
  // The variants' program runs, two at a time (each is a process loading the whole program).
  before(async () => {
    const results = await inBatches(URN_VARIANTS.map((v) => () => registrations(v.stack, v.overrides)));
    URN_VARIANTS.forEach((v, i) => runs.set(v.id, results[i]));
  });
  for (const v of URN_VARIANTS) {
    it(`${v.id}: no resource would be replaced`, () => {
      const old = new Set<string>(JSON.parse(fs.readFileSync(path.join(FIXTURES, `urns-${v.fixture ?? v.id}.json`), "utf8")));
      const regs = runs.get(v.id)!;
      assert.equal(new Set(regs.map((r) => r.urn)).size, regs.length, "two resources with one URN");
      const { claimed, errors } = matchOldResources(old, regs);
      assert.deepEqual(errors, []);
      const lost = [...old].filter((u) => !claimed.has(u));
      assert.deepEqual(lost, [], `${lost.length} resources would be deleted (and recreated under a new URN)`);
    });
  }
});

describe("URN guard: the replay of the engine's alias matching", () => {
  const S = "urn:pulumi:dev::p::";
  const reg = (urn: string, parent = "", aliases: DeclaredAlias[] = []): Registration => ({
    urn,
    type: qualifiedType(urn).split("$").pop()!,
    name: urnName(urn),
    parent,
    aliases,
  });
  const oldParent = `${S}a:b:Parent::app-host`;
  const oldChild = `${S}a:b:Parent$aws:iam/role:Role::app-host`;
  const old = new Set([oldParent, oldChild]);

  it("a renamed parent without an alias loses itself and its child", () => {
    const regs = [reg(`${S}a:b:Parent::app-identity`), reg(`${S}a:b:Parent$aws:iam/role:Role::app-identity`, `${S}a:b:Parent::app-identity`)];
    const { claimed } = matchOldResources(old, regs);
    assert.equal(claimed.size, 0);
  });

  it("an alias on the renamed parent carries its child whose name starts with the parent's", () => {
    const p = `${S}a:b:Parent::app-identity`;
    const regs = [reg(p, "", [{ name: "app-host" }]), reg(`${S}a:b:Parent$aws:iam/role:Role::app-identity`, p)];
    const { claimed, errors } = matchOldResources(old, regs);
    assert.deepEqual(errors, []);
    assert.deepEqual([...claimed.keys()].sort(), [oldChild, oldParent].sort());
  });

  it("a child named apart from its parent needs its own alias", () => {
    const p = `${S}a:b:Parent::app-identity`;
    const child = `${S}a:b:Parent$aws:iam/role:Role::role-x`;
    const without = matchOldResources(old, [reg(p, "", [{ name: "app-host" }]), reg(child, p)]);
    assert.ok(!without.claimed.has(oldChild));
    const withAlias = matchOldResources(old, [reg(p, "", [{ name: "app-host" }]), reg(child, p, [{ name: "app-identity" }])]);
    assert.ok(withAlias.claimed.has(oldChild));
  });

  it("two resources aliasing one old resource is an error", () => {
    const regs = [reg(`${S}a:b:Parent::x`, "", [{ name: "app-host" }]), reg(`${S}a:b:Parent::y`, "", [{ name: "app-host" }])];
    assert.equal(matchOldResources(old, regs).errors.length, 1);
  });
});
