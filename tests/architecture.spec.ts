/**
 * The house's floors (docs/architecture.md): every product file imports only from its own floor or the floors below.
 * A file that needs something from above is on the wrong floor, or the thing it needs is.
 */
import * as assert from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");

/** Bottom to top. `scripts/` and `tests/` stand beside the house and may import any floor. */
export const FLOORS = ["layout", "config", "rules", "dashboards", "hostfiles", "components", "index.ts"] as const;

function productFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith(".ts")) out.push(rel);
    }
  };
  for (const f of FLOORS) (f.endsWith(".ts") ? out.push(f) : walk(f));
  return out.sort();
}

const floorOf = (file: string) => FLOORS.findIndex((f) => file === f || file.startsWith(f + "/"));

/** Relative imports of a file, resolved to repository paths (`x.ts` or `x/index.ts`). */
function importsOf(file: string): string[] {
  const src = fs.readFileSync(path.join(ROOT, file), "utf8");
  const specs = [...src.matchAll(/(?:from|import|require\()\s*\(?\s*["'](\.{1,2}\/[^"']*)["']/g)].map((m) => m[1]);
  return specs.map((s) => {
    const base = path.normalize(path.join(path.dirname(file), s));
    for (const c of [`${base}.ts`, path.join(base, "index.ts"), base]) if (fs.existsSync(path.join(ROOT, c)) && fs.statSync(path.join(ROOT, c)).isFile()) return c;
    throw new Error(`${file}: cannot resolve import ${s}`);
  });
}

describe("architecture: floors", () => {
  const files = productFiles();

  it("puts every product file on a floor", () => {
    assert.ok(files.length > 40, `found only ${files.length} product files`);
    for (const f of files) assert.ok(floorOf(f) >= 0, `${f} is on no floor`);
  });

  it("has no import that runs back up a floor", () => {
    const upward: string[] = [];
    for (const f of files) {
      for (const target of importsOf(f)) {
        const to = floorOf(target);
        if (to < 0) upward.push(`${f} imports ${target}, which is outside the house`);
        else if (to > floorOf(f)) upward.push(`${f} (${FLOORS[floorOf(f)]}) imports ${target} (${FLOORS[to]})`);
      }
    }
    assert.deepStrictEqual(upward, []);
  });

  it("user data loads none of the renderers it does not use (no rule or dashboard generation for its leak check)", () => {
    const seen = new Set<string>();
    const visit = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      importsOf(f).forEach(visit);
    };
    visit("hostfiles/user-data.ts");
    assert.deepStrictEqual([...seen].filter((f) => /^(rules|dashboards)\/|^hostfiles\/(bundle|host-files|agent|units)\.ts$/.test(f)), []);
  });
});

describe("architecture: docs/architecture.md matches the code", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs", "architecture.md"), "utf8");

  it("lists the floors the import check enforces, bottom to top", () => {
    const rows = [...doc.matchAll(/^\| (\d+) \| `([^`]+)` \|/gm)].map((m) => ({ n: Number(m[1]), floor: m[2].replace(/\/$/, "") }));
    assert.deepStrictEqual(rows.map((r) => r.floor), [...FLOORS]);
    assert.deepStrictEqual(rows.map((r) => r.n), FLOORS.map((_, i) => i));
  });

  it("names only paths that exist (a file moved without this page fails here)", () => {
    const paths = [...doc.matchAll(/`((?:[a-z][\w.-]*\/)+[\w.-]*|[\w-]+\.ts)`/g)].map((m) => m[1]);
    assert.ok(paths.length > 20, `only ${paths.length} paths found`);
    const missing = [...new Set(paths)].filter((p) => !fs.existsSync(path.join(ROOT, p)));
    assert.deepStrictEqual(missing, []);
  });

  it("names every product folder", () => {
    const folders = new Set<string>();
    for (const f of productFiles()) if (f.includes("/")) folders.add(path.dirname(f) + "/");
    const unnamed = [...folders].filter((d) => !doc.includes("`" + d));
    assert.deepStrictEqual(unnamed, []);
  });
});
