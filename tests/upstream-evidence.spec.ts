/**
 * Grafana, Loki, Tempo and otelcol-contrib have no binary on these machines: every key of their rendered config
 * files and every word of their command lines must be one the upstream accepts at the pinned version, according
 * to the evidence read from its source (hostfiles/upstream-evidence/, docs/testing.md "Upstream evidence").
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { COMPONENTS } from "../config/release-manifest";
import { EVIDENCE_DOCUMENTS, EVIDENCE_SERVICES, evidenceStacks, flagsForEvidence, NOT_CONFIG, renderedForEvidence } from "./support/evidence-targets";
import { checkDocument, checkFlags, Evidence, evidenceEntries, EVIDENCE_DIR, keyPaths, joinPath, loadEvidence, parseIni } from "./support/upstream-evidence";

const sample: Evidence = {
  service: "demo",
  pinned: "1.0.0",
  sources: { up: { repo: "owner/demo", ref: "v1.0.0" } },
  documents: {
    config: {
      format: "yaml",
      componentIds: ["exporters"],
      discriminators: { sources: "type" },
      keys: Object.fromEntries(
        ["server", "server.port", "list", "list[].name", "labels", "labels.*", "exporters", "exporters.otlp", "exporters.otlp.endpoint", "sources", "sources[a].type", "sources[a].x", "sources[b].type"].map((k) => [
          k,
          { src: "up", file: "config.go", match: k },
        ]),
      ),
    },
    ini: { format: "ini", keys: { server: { src: "up", file: "defaults.ini", match: "[server]" }, "server.http_port": { src: "up", file: "defaults.ini", match: "http_port =" } } },
  },
  flags: { "-config.file": { src: "up", file: "main.go", match: '"config.file"' }, server: { src: "up", file: "cli.go", match: '"server"' } },
};

describe("upstream evidence (services with no binary here)", () => {
  describe("the checker", () => {
    it("accepts listed paths, wildcards, list items, component ids type/name and per-type list items", () => {
      const yaml = "server: {port: 1}\nlist: [{name: a}]\nlabels: {anything: x}\nexporters: {otlp/tempo: {endpoint: e}}\nsources: [{type: a, x: 1}]\n";
      assert.deepEqual(checkDocument(sample, "config", "/etc/demo.yaml", yaml), []);
    });

    it("names the rendered file and the key path of an unknown key, nested or in a list item", () => {
      const problems = checkDocument(sample, "config", "/etc/demo.yaml", "server: {port: 1, prot: 2}\nlist: [{nmae: a}]\nsources: [{type: b, x: 1}]\n");
      assert.ok(problems.some((p) => p.startsWith("/etc/demo.yaml: key path server.prot ")), problems.join("\n"));
      assert.ok(problems.some((p) => p.includes("key path list[].nmae ")), problems.join("\n"));
      // A key accepted for one type of item is not accepted for another.
      assert.ok(problems.some((p) => p.includes("key path sources[b].x ")), problems.join("\n"));
      assert.ok(problems.every((p) => p.includes("hostfiles/upstream-evidence/demo-1.0.0.json")));
    });

    it("checks values where the upstream accepts only some (a scalar, or each item of a list)", () => {
      const ev: Evidence = JSON.parse(JSON.stringify(sample));
      ev.documents.config.keys["server.mode"] = { src: "up", file: "config.go", match: "mode", values: ["a", "b"] };
      ev.documents.config.keys.list.values = ["x"];
      ev.flags!["-target"] = { src: "up", file: "main.go", match: "target", values: ["all"] };
      assert.deepEqual(checkDocument(ev, "config", "/etc/demo.yaml", "server: {mode: b}\n"), []);
      assert.match(checkDocument(ev, "config", "/etc/demo.yaml", "server: {mode: c}\n")[0], /server\.mode = "c" is not one of \["a","b"\]/);
      assert.match(checkDocument(ev, "config", "/etc/demo.yaml", "list: [x, y]\n")[0], /list = "y"/);
      assert.deepEqual(checkFlags(ev, "demo.service", ["-target=all"]), []);
      assert.match(checkFlags(ev, "demo.service", ["-target=al"])[0], /-target=al is not one of \["all"\]/);
    });

    it("reads INI sections (dotted names quoted) and checks command lines word by word", () => {
      assert.deepEqual(parseIni("; c\n[auth.anonymous]\nenabled = false\n"), { "auth.anonymous": { enabled: "false" } });
      assert.deepEqual(keyPaths(parseIni("[auth.anonymous]\nenabled = false\n")).map(joinPath), ['"auth.anonymous"', '"auth.anonymous".enabled']);
      assert.deepEqual(checkDocument(sample, "ini", "grafana.ini", "[server]\nhttp_port = 3000\n"), []);
      assert.match(checkDocument(sample, "ini", "grafana.ini", "[server]\nhttp_prot = 3000\n")[0], /grafana\.ini: key path server\.http_prot /);
      assert.deepEqual(checkFlags(sample, "demo.service", ["server", "-config.file=/x"]), []);
      assert.match(checkFlags(sample, "demo.service", ["-config.fil=/x"])[0], /demo\.service: command-line word -config\.fil /);
    });
  });

  describe("the evidence files", () => {
    for (const service of EVIDENCE_SERVICES) {
      const version = COMPONENTS[service].version;
      it(`${service} ${version}: exists for the pinned version; every entry names a declared source, a file and what it contains`, () => {
        const ev = loadEvidence(service, version);
        assert.equal(ev.service, service);
        assert.equal(ev.pinned, version);
        for (const { where, entry } of evidenceEntries(ev)) {
          const src = ev.sources[entry.src];
          assert.ok(src, `${service}: ${where}: source "${entry.src}" is not declared in "sources"`);
          assert.ok(src.repo && src.ref, `${service}: source "${entry.src}" needs repo and ref`);
          assert.ok(entry.file && entry.match, `${service}: ${where}: needs file and match`);
        }
        // Read at another version than the pinned one: the file must say why.
        for (const [name, src] of Object.entries(ev.sources)) {
          if (!src.ref.includes(version)) assert.ok(src.note, `${service}: source "${name}" (${src.ref}) is not the pinned ${version}: add a note saying why`);
        }
      });
    }

    it("holds one file per service at its pinned version and nothing stale", () => {
      const expected = EVIDENCE_SERVICES.map((s) => `${s}-${COMPONENTS[s].version}.json`).sort();
      const present = fs.readdirSync(EVIDENCE_DIR).filter((f) => f.endsWith(".json")).sort();
      assert.deepEqual(present, expected, "an upgrade in config/release-manifest.ts needs the evidence re-read at the new version (scripts/upstream-evidence.ts)");
    });
  });

  for (const { name, stack, cfg, pair } of evidenceStacks()) {
    describe(`stack ${name}`, () => {
      const rendered = renderedForEvidence(stack, cfg, pair);

      it("checks every config file of these services (or says why a file holds no keys)", () => {
        for (const r of rendered) {
          assert.ok(r.document || NOT_CONFIG[r.path], `${r.path} (${r.service}) has no evidence document in tests/support/evidence-targets.ts`);
        }
        for (const d of EVIDENCE_DOCUMENTS) assert.ok(rendered.some((r) => r.path === d.path), `${d.path} is not rendered any more`);
      });

      it("renders only config keys the upstream accepts at the pinned version", () => {
        const problems = rendered
          .filter((r) => r.document)
          .flatMap((r) => checkDocument(loadEvidence(r.service, r.version), r.document!, r.path, r.content));
        assert.deepEqual(problems, []);
      });

      it("runs each service with command-line flags the upstream accepts", () => {
        const problems = flagsForEvidence(cfg).flatMap((f) => checkFlags(loadEvidence(f.service, f.version), `${f.service}.service`, f.words));
        assert.deepEqual(problems, []);
      });
    });
  }
});
