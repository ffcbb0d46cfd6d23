/**
 * Templates stay for text with a layout of its own. A file that is only a header around one serialised block is
 * written by a serialiser instead (hostfiles/templates.ts yamlFile, rules/rule-file.ts ruleFileText).
 */
import * as assert from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { TEMPLATES_DIR } from "../hostfiles/templates";

describe("templates", () => {
  it("none is only comment lines around a single placeholder", () => {
    const files = fs.readdirSync(TEMPLATES_DIR, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".hbs"));
    assert.ok(files.length > 5, `found only ${files.length} templates`);
    const headerOnly = files.filter((f) => {
      const body = fs.readFileSync(path.join(TEMPLATES_DIR, f), "utf8").split("\n").filter((l) => l.trim() && !/^\s*[#;]/.test(l));
      return body.length === 1 && /^\{\{[^}]+\}\}$/.test(body[0].trim());
    });
    assert.deepEqual(headerOnly, [], "header-only templates: write these files with a serialiser");
  });
});
