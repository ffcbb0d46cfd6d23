/**
 * monitoring-sync (host-agent/monitoring-sync.sh): polls the bundle's ETag, unpacks the bundle with the real jq,
 * downloads the pinned release archives and refuses any whose SHA-256 is not the pinned one. aws and curl are
 * fakes here; the boot test (tests/boot) runs the real AWS CLI and curl against S3 and the release site on loopback.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { buildBundle, renderBundle } from "../../hostfiles/bundle";
import { bootstrapSettings } from "../../hostfiles/user-data";
import { placeholderBundleContext, placeholderUserDataContext } from "../../layout/host-file";
import { withStandInDigests } from "../boot/releases";
import { bootstrapJson, fake, runScriptFunction } from "../support/host-scripts";
import { COMPONENTS, unpinnedReleases } from "../../config/release-manifest";
import { arm64Overrides, stackConfig, standInReleaseDigests } from "../support/stacks";
import { tempDir } from "../support/validators";

/** bootstrap.json's settings the sync step does not use in these tests. */
const BASE = { region: "eu-west-1", configRoot: "/etc/monitoring-host" };

// Wiring against a fake curl; on the booted host with the real curl and sha256sum: tests/boot-security.spec.ts
// "a release whose download does not match the pinned SHA-256 is refused".
describe("sync: release downloads are verified against the pinned SHA-256 (fake curl)", () => {
  let t: ReturnType<typeof tempDir>;
  let bin: string, served: string, log: string;
  const artifact = "prometheus-9.9.9.linux-amd64.tar.gz";
  const content = "pretend this is a release archive\n";
  const sha = createHash("sha256").update(content).digest("hex");

  beforeEach(() => {
    t = tempDir("monhost-sync-");
    bin = path.join(t.dir, "bin");
    served = path.join(t.dir, "served");
    log = path.join(t.dir, "curl.log");
    fs.mkdirSync(bin);
    fs.mkdirSync(served);
    fs.writeFileSync(path.join(served, artifact), content);
    // A release that also publishes a checksum file listing the archive: the sync step must never rely on it.
    fs.writeFileSync(path.join(served, "sha256sums.txt"), `${sha}  ${artifact}\n`);
    // curl -o <file> <url>: serves files from $served by the URL's last path segment.
    fake(
      bin,
      "curl",
      `out=""; url=""
while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done
echo "$url" >>"${log}"
[ -f "${served}/\${url##*/}" ] || exit 22
cp "${served}/\${url##*/}" "$out"`,
    );
  });
  afterEach(() => t.cleanup());

  const fetch = (pinned: string) => {
    const dir = path.join(t.dir, "artifacts", "prometheus-9.9.9");
    const res = runScriptFunction("monitoring-sync.sh", `fetch_artifact "${dir}" "${artifact}" "https://example.invalid/v9.9.9/${artifact}" "${pinned}"`, {}, bin);
    const urls = fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [];
    return { res, dir, urls };
  };

  it("keeps an archive whose SHA-256 equals the pinned one, downloading nothing but the archive", () => {
    const { res, dir, urls } = fetch(sha);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(fs.readFileSync(path.join(dir, artifact), "utf8"), content);
    assert.deepEqual(urls, [`https://example.invalid/v9.9.9/${artifact}`], "no checksum file from the release's origin");
  });

  it("refuses a tampered release even when the release's own checksum file agrees with it", () => {
    const tampered = "a tampered archive\n";
    fs.writeFileSync(path.join(served, artifact), tampered);
    const tamperedSha = createHash("sha256").update(tampered).digest("hex");
    fs.writeFileSync(path.join(served, "sha256sums.txt"), `${tamperedSha}  ${artifact}\n`);
    const { res, dir } = fetch(sha);
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, new RegExp(`checksum mismatch for ${artifact.replace(/\./g, "\\.")}: pinned ${sha}, downloaded ${tamperedSha} .*; not installing it`));
    assert.ok(!fs.existsSync(dir) && !fs.existsSync(`${dir}.tmp`), "nothing of it is kept");
  });

  it("an arm64 stack's releaseDigests reach the host: the rendered bundle carries them, and the download is verified against them", function () {
    const [u] = unpinnedReleases("arm64");
    if (u === undefined) this.skip(); // every arm64 archive pinned in config/release-manifest.ts: nothing the operator supplies
    const archive = `pretend this is ${u.artifact}\n`;
    const operatorSha = createHash("sha256").update(archive).digest("hex");
    const cfg = stackConfig("dev", { ...arm64Overrides("t4g.large"), releaseDigests: { ...standInReleaseDigests("arm64"), [u.key]: operatorSha } });
    const bundle = buildBundle(cfg, placeholderBundleContext("dev"));
    const entry = bundle.versions.filter((v) => v.name === u.name);
    assert.deepEqual(
      entry.map((v) => [v.artifact, v.sha256, v.pinnedBy]),
      [[u.artifact, operatorSha, "releaseDigests"]],
    );
    // The host's sync step, as it runs: reads the bundle's entry, downloads the archive, keeps it only if it has that digest.
    const file = path.join(t.dir, "bundle.json");
    fs.writeFileSync(file, JSON.stringify({ versions: entry }));
    const env = { SYNC_DIR: path.join(t.dir, "sync"), BIN_ROOT: path.join(t.dir, "binroot") };
    const kept = path.join(env.SYNC_DIR, "artifacts", `${u.name}-${COMPONENTS[u.name].version}`, u.artifact);
    fs.writeFileSync(path.join(served, u.artifact), "a tampered archive\n");
    let res = runScriptFunction("monitoring-sync.sh", `fetch_artifacts "${file}"`, env, bin);
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, new RegExp(`checksum mismatch for ${u.artifact.replace(/\./g, "\\.")}: pinned ${operatorSha}`));
    assert.ok(!fs.existsSync(kept));
    fs.writeFileSync(path.join(served, u.artifact), archive);
    res = runScriptFunction("monitoring-sync.sh", `fetch_artifacts "${file}"`, env, bin);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`verified ${u.artifact.replace(/\./g, "\\.")} \\(${operatorSha}\\)`));
    assert.equal(fs.readFileSync(kept, "utf8"), archive);
    assert.ok(fs.readFileSync(log, "utf8").trim().split("\n").every((url) => url === u.url), "downloads the pinned URL and nothing else");
  });

  it("refuses an archive that has no pinned digest, without downloading it", () => {
    const { res, dir, urls } = fetch("-");
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, new RegExp(`no pinned SHA-256 for ${artifact.replace(/\./g, "\\.")} in the bundle \\(config/release-manifest\\.ts or the stack.s releaseDigests\\)`));
    assert.deepEqual(urls, []);
    assert.ok(!fs.existsSync(dir));
  });
});

// The bounded retries are wiring here; the boot test shows a failing first boot reported in the journal at once
// (wrong bucket) and a successful one (first boot).
describe("sync: first boot", () => {
  it("retries a failing bootstrap a bounded number of times, then says how to retry by hand", () => {
    const t = tempDir("monhost-boot-");
    try {
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      const log = path.join(t.dir, "aws.log");
      fake(bin, "aws", `echo "aws $*" >> "${log}"; exit 255`);
      fake(bin, "sleep", "true");
      const settings = bootstrapJson(path.join(t.dir, "bootstrap.json"), { ...BASE, configBucket: "b", configKey: "hosts/dev/bundle.json", stateDir: `${t.dir}/state`, binRoot: `${t.dir}/bin-root` });
      const res = runScriptFunction("monitoring-sync.sh", "main --bootstrap", { BOOTSTRAP_JSON: settings, BOOTSTRAP_ATTEMPTS: "3", BOOTSTRAP_RETRY_SECONDS: "0" }, bin);
      assert.notEqual(res.status, 0);
      assert.equal(res.stdout.match(/bootstrap attempt \d of 3 failed/g)?.length, 3);
      assert.match(res.stderr, /cannot read s3:\/\/b\/hosts\/dev\/bundle\.json \(the instance role needs s3:GetObject on it\)/);
      assert.match(res.stderr, /bootstrap failed 3 times; .*monitoring-sync --bootstrap/);
      // Each attempt polls S3 for a while (the role and the bundle may be late), never forever.
      const polls = fs.readFileSync(log, "utf8").trim().split("\n").length;
      assert.equal(polls, 3 * 60);
    } finally {
      t.cleanup();
    }
  });
});

// Shown for real by the boot test's config change: the real AWS CLI polls the ETag, fetches with If-Match, and the
// apply step runs from the path unit.
describe("sync: a poll against fake aws and curl", () => {
  it("fetches a changed bundle once, verifies every pinned archive, signals apply, and does nothing when unchanged", () => {
    const t = tempDir("monhost-poll-");
    try {
      const cfg = stackConfig("prd");
      const bundle = buildBundle(cfg, placeholderBundleContext("prd"));
      const served = path.join(t.dir, "served");
      fs.mkdirSync(served);
      // TEST ONLY: stand-in archives, so the bundle's `versions` pin their digests instead of the real releases';
      // everything else in the bundle is as rendered.
      const digests: Record<string, string> = {};
      for (const c of bundle.versions) {
        const body = `archive ${c.artifact}`;
        fs.writeFileSync(path.join(served, c.artifact), body);
        digests[c.name] = createHash("sha256").update(body).digest("hex");
      }
      const bundleFile = path.join(t.dir, "bundle.json");
      fs.writeFileSync(bundleFile, withStandInDigests(renderBundle(cfg, placeholderBundleContext("prd")), digests));
      const etagFile = path.join(t.dir, "etag");
      fs.writeFileSync(etagFile, '"etag-1"');
      const bin = path.join(t.dir, "bin");
      fs.mkdirSync(bin);
      const calls = path.join(t.dir, "calls.log");
      fake(
        bin,
        "aws",
        `echo "aws $*" >> "${calls}"
case "$2" in
  head-object) cat "${etagFile}"; echo ;;
  get-object) cp "${bundleFile}" "\${@: -1}"; echo '{}' ;;
  *) exit 1 ;;
esac`,
      );
      fake(
        bin,
        "curl",
        `echo "curl \${@: -1}" >> "${calls}"; out=""; url=""
while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done
[ -f "${served}/\${url##*/}" ] || exit 22
cp "${served}/\${url##*/}" "$out"`,
      );
      const state = path.join(t.dir, "state");
      const settings = bootstrapJson(path.join(t.dir, "bootstrap.json"), { ...BASE, configBucket: "b", configKey: "k", stateDir: state, binRoot: `${t.dir}/binroot` });
      const poll = () => runScriptFunction("monitoring-sync.sh", "main", { BOOTSTRAP_JSON: settings }, bin);
      const log = () => fs.readFileSync(calls, "utf8").trim().split("\n");

      let res = poll();
      assert.equal(res.status, 0, res.stderr);
      const current = fs.realpathSync(path.join(state, "sync", "current"));
      assert.equal(fs.readFileSync(path.join(current, "bundle.json"), "utf8"), fs.readFileSync(bundleFile, "utf8"));
      for (const f of bundle.files) assert.equal(fs.readFileSync(path.join(current, "files", f.path), "utf8"), f.content, f.path);
      assert.equal(fs.readFileSync(path.join(state, "sync", "etag"), "utf8"), '"etag-1"\n');
      assert.ok(fs.existsSync(path.join(state, "sync", "ready")));
      for (const c of bundle.versions) {
        assert.ok(fs.existsSync(path.join(state, "sync", "artifacts", `${c.name}-${c.version}`, c.artifact)), c.name);
      }
      // One download per archive: no checksum file from the release's origin.
      assert.equal(log().filter((l) => l.startsWith("curl")).length, bundle.versions.length);
      assert.ok(log().some((l) => l.includes("get-object") && l.includes('--if-match "etag-1"')));

      // Unchanged ETag, applied: one HEAD, nothing else.
      fs.writeFileSync(calls, "");
      fs.copyFileSync(path.join(state, "sync", "etag"), path.join(state, "applied-etag"));
      fs.rmSync(path.join(state, "sync", "ready"));
      res = poll();
      assert.equal(res.status, 0, res.stderr);
      assert.deepEqual(log(), ["aws s3api head-object --bucket b --key k --query ETag --output text"]);
      assert.ok(!fs.existsSync(path.join(state, "sync", "ready")));

      // Unchanged but not applied (apply failed): signal again, fetch nothing.
      fs.writeFileSync(path.join(state, "applied-etag"), '"etag-0"\n');
      res = poll();
      assert.match(res.stdout, /not applied yet; signalling the apply step again/);
      assert.ok(fs.existsSync(path.join(state, "sync", "ready")));

      // A new ETag: fetched again; the archives already verified are not downloaded again.
      fs.writeFileSync(calls, "");
      fs.writeFileSync(etagFile, '"etag-2"');
      res = poll();
      assert.equal(res.status, 0, res.stderr);
      assert.ok(!log().some((l) => l.startsWith("curl")), log().join("\n"));
      assert.notEqual(fs.realpathSync(path.join(state, "sync", "current")), current);
      // The previous bundle stays (an apply may still read it); older ones go.
      assert.equal(fs.readdirSync(path.join(state, "sync", "bundles")).length, 2);
    } finally {
      t.cleanup();
    }
  });
});

describe("sync: bundle unpacking (real jq)", () => {
  let t: ReturnType<typeof tempDir>;
  let bin: string;
  beforeEach(() => {
    t = tempDir("monhost-unpack-");
    bin = path.join(t.dir, "bin");
    fs.mkdirSync(bin);
  });
  afterEach(() => t.cleanup());
  const unpack = (doc: unknown, out = path.join(t.dir, "out")) => {
    const file = path.join(t.dir, "bundle.json");
    fs.writeFileSync(file, typeof doc === "string" ? doc : JSON.stringify(doc));
    return runScriptFunction("monitoring-sync.sh", `unpack_bundle "${file}" "${out}"`, {}, bin);
  };

  for (const stack of ["dev", "prd"]) {
    it(`(${stack}) writes every file of the rendered bundle byte for byte`, () => {
      const cfg = stackConfig(stack);
      const res = unpack(renderBundle(cfg, placeholderBundleContext(stack)));
      assert.equal(res.status, 0, res.stderr);
      for (const f of buildBundle(cfg, placeholderBundleContext(stack)).files) {
        assert.equal(fs.readFileSync(path.join(t.dir, "out", "files", f.path), "utf8"), f.content, f.path);
      }
    });
  }

  it("refuses the whole bundle for one entry the apply step must not install, naming it", () => {
    const bundle = buildBundle(stackConfig("dev"), placeholderBundleContext("dev"));
    const ok = { path: "/etc/x.conf", content: "x\n", mode: "0644", owner: "root:root" };
    for (const [bad, why] of [
      [{ ...ok, path: "/etc/../../tmp/x" }, "escaping path"],
      [{ ...ok, path: "etc/x" }, "relative path"],
      [{ ...ok, mode: "4755" }, "setuid mode"],
      [{ ...ok, owner: "root root" }, "owner with a space"],
      [{ ...ok, onChange: { unit: "x.service; rm -rf /", action: "restart" } }, "unit with shell"],
      [{ ...ok, onChange: { unit: "x.service", action: "stop" } }, "unknown action"],
      [{ ...ok, content: "a\u0000b" }, "NUL in content"],
    ] as const) {
      const res = unpack({ ...bundle, files: [ok, bad] }, path.join(t.dir, why.replace(/ /g, "-")));
      assert.notEqual(res.status, 0, why);
      assert.ok(res.stderr.includes(`refusing bundle entry ${JSON.stringify(bad.path)}`), `${why}: ${res.stderr}`);
      assert.ok(!fs.existsSync(path.join(t.dir, why.replace(/ /g, "-"), "files")), `${why}: nothing written`);
    }
  });

  it("refuses a bundle of another schema version (a host agent older or newer than the bundle)", () => {
    const res = unpack({ ...buildBundle(stackConfig("dev"), placeholderBundleContext("dev")), schemaVersion: 1 });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /unsupported bundle schemaVersion 1/);
  });
});

describe("sync: talking to AWS (fake aws)", () => {
  let t: ReturnType<typeof tempDir>;
  let bin: string;
  let settings: string;
  beforeEach(() => {
    t = tempDir("monhost-aws-");
    bin = path.join(t.dir, "bin");
    fs.mkdirSync(bin);
    fs.mkdirSync(path.join(t.dir, "state", "sync"), { recursive: true });
    const cfg = stackConfig("dev");
    settings = bootstrapJson(path.join(t.dir, "bootstrap.json"), {
      ...bootstrapSettings(cfg, { ...placeholderUserDataContext("dev"), configBucket: "wrong-bucket-name" }),
      stateDir: `${t.dir}/state`,
    });
  });
  afterEach(() => t.cleanup());

  // The boot test shows both on the real AWS CLI: its fake IMDS does not answer the region, and a wrong bucket.
  it("exports the region of bootstrap.json, so it reaches aws in the bootstrap run", () => {
    fake(bin, "aws", `echo "\${AWS_REGION:-unset}"`);
    const res = runScriptFunction("monitoring-sync.sh", `load_settings; remote_etag`, { BOOTSTRAP_JSON: settings }, bin);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout.trim(), stackConfig("dev").region);
  });

  it("reports a wrong bucket at the first failed attempt with the AWS error, naming bucket, key and permission", () => {
    fake(bin, "aws", `echo "An error occurred (404) when calling the HeadObject operation: Not Found" >&2; exit 254`);
    fake(bin, "sleep", "true");
    const res = runScriptFunction("monitoring-sync.sh", `load_settings; wait_for_etag 3`, { BOOTSTRAP_JSON: settings, ETAG_RETRY_SECONDS: "0" }, bin);
    assert.notEqual(res.status, 0);
    const lines = res.stderr.trim().split("\n");
    assert.match(lines[0], /cannot read s3:\/\/wrong-bucket-name\/hosts\/dev\/bundle\.json \(HeadObject; the instance role needs s3:GetObject on it\), attempt 1 of 3: An error occurred \(404\)/);
    // The same error is not repeated at every attempt; the final message keeps it.
    assert.equal(lines.length, 2, res.stderr);
    assert.match(lines[1], /last error: An error occurred \(404\)/);
  });
});
