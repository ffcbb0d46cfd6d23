/*
 * One measured run for `npm run bench:program`, in a fresh process:
 *   floor            require @pulumi/pulumi and @pulumi/aws, nothing else
 *   program-fast     load the program as `pulumi up` does with `noCheck` (Pulumi's vendored ts-node, transpile
 *                    only), register every resource of the stack under mocks
 *   program-checked  the same with ts-node type-checking (Pulumi's default without noCheck)
 * BENCH_TS_CACHE=0 turns off ts-node's compile cache (as on the first run after any code change).
 * Prints one JSON line: {mode, resources, ms}.
 */
const path = require("path");
const root = path.resolve(__dirname, "..", "..");
const [mode, stack] = process.argv.slice(2);
const started = process.hrtime.bigint();
const elapsedMs = () => Number(process.hrtime.bigint() - started) / 1e6;

if (mode === "floor") {
  require("@pulumi/pulumi");
  require("@pulumi/aws");
  console.log(JSON.stringify({ mode, resources: 0, ms: elapsedMs() }));
  process.exit(0);
}

require(path.join(root, "node_modules/@pulumi/pulumi/vendor/ts-node@7.0.1")).register({
  compiler: require.resolve("typescript"),
  transpileOnly: mode === "program-fast",
  cache: process.env.BENCH_TS_CACHE !== "0",
  project: path.join(root, "tsconfig.json"),
  // tsconfig sets noCheck for `pulumi up`; the checked mode turns it back off to measure what it saves.
  compilerOptions: mode === "program-fast" ? {} : { noCheck: false },
});
const mocks = require(path.join(root, "tests/support/mocks.ts"));
const { programConfig } = require(path.join(root, "tests/support/stacks.ts"));
const pulumi = require("@pulumi/pulumi");
const { config, secretKeys } = programConfig(stack);
pulumi.runtime.setAllConfig(config, secretKeys);
const program = require(path.join(root, "index.ts"));
(async () => {
  await mocks.valueOf(program.sshConfig);
  await mocks.settle();
  console.log(JSON.stringify({ mode, resources: mocks.resources.length, ms: elapsedMs() }));
  process.exit(0);
})();
