/**
 * The README tells a newcomer what to replace: every value the committed stack files mark `# placeholder` is in its
 * placeholder table, and the Node.js version it asks for is the one @pulumi/pulumi requires.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";

const REPO = path.resolve(__dirname, "..");

describe("README for a newcomer", () => {
  const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
  const table = readme.slice(readme.indexOf("Placeholders to replace"), readme.indexOf("`docs/configuration.md` describes every key"));

  it("lists every key the stack files mark as a placeholder, and runbookBaseUrl", () => {
    assert.ok(table.length > 100, "no placeholder table");
    for (const stack of ["dev", "prd"]) {
      const lines = fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), "utf8").split("\n");
      lines.forEach((line, i) => {
        if (!/#\s*placeholder/.test(line)) return;
        // The key on the line, a receiver's field (`to:` → `.to`), or for a list item the key the list belongs to.
        const own = /monitoring-hosts:(\w+)/.exec(line)?.[1];
        const field = /^\s+(\w+):/.exec(line)?.[1];
        const parent = [...lines.slice(0, i)].reverse().map((l) => /monitoring-hosts:(\w+)/.exec(l)?.[1]).find(Boolean);
        const name = own ?? (field ? `.${field}` : parent!);
        assert.ok(table.includes(name), `Pulumi.${stack}.yaml:${i + 1} marks ${name} as a placeholder; the README's table does not list it`);
      });
    }
    assert.ok(table.includes("runbookBaseUrl"));
  });

  it("asks for the Node.js version @pulumi/pulumi requires and says the host needs NAT for its downloads", () => {
    const pulumi = JSON.parse(fs.readFileSync(path.join(REPO, "node_modules/@pulumi/pulumi/package.json"), "utf8"));
    const major = /(\d+)/.exec(pulumi.engines.node)![1];
    assert.match(readme, new RegExp(`Node\\.js ${major} or newer`));
    assert.match(readme, /NAT/);
    assert.match(readme, /VPC endpoints[^.]*alone they are not enough/);
    assert.match(readme, /docs\/connect-an-application\.md/);
    assert.ok(fs.existsSync(path.join(REPO, "docs", "connect-an-application.md")));
  });
});
