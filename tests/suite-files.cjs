/**
 * Which spec files the full suite (`npm test`, .mocharc.suite.cjs) runs, in which order. Plain CommonJS: mocha reads
 * its config with node alone.
 *
 * The suite runs spec files in parallel worker processes, a few at a time; a file waits for a free worker in this
 * order. The longest files (measured: docs/testing.md, "How long the suite takes") go first, so the short ones fill
 * the other workers meanwhile instead of queueing before them and making the longest one start last. A name here
 * that no longer exists is skipped; a new spec file runs with the rest.
 */
const fs = require("fs");
const path = require("path");

const ROOT = path.resolve(__dirname, "..");

/** Longest first (wall time alone on 2 cores); everything else follows in path order. */
const LONGEST = [
  "tests/boot/boot.spec.ts",
  "tests/appointments-e2e.spec.ts",
  "tests/ha-pair-e2e.spec.ts",
  "tests/alerting-e2e.spec.ts",
  "tests/boot-runbooks.spec.ts",
  "tests/connect-guide.spec.ts",
  "tests/boot-security.spec.ts",
  "tests/dashboards.spec.ts",
  "tests/components.spec.ts",
];

/** Every tests/**\/*.spec.ts, relative to the repository, sorted. */
function specFiles() {
  const out = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith(".spec.ts")) out.push(rel);
    }
  };
  walk("tests");
  return out.sort();
}

/** Every spec file once: the longest first, then the rest. */
function suiteFiles() {
  const all = specFiles();
  const first = LONGEST.filter((f) => all.includes(f));
  return [...first, ...all.filter((f) => !first.includes(f))];
}

module.exports = { specFiles, suiteFiles };
