/**
 * The full suite, as `npm test` runs it: .mocharc.json's settings, plus every spec file in parallel worker processes
 * (mocha --parallel), the longest first (tests/suite-files.cjs). The long files mostly wait (the rules' `for`, a host
 * booting), so they share the machine well with each other and with the CPU-bound ones. Spec files are isolated from
 * each other: servers on free loopback ports, their own temp dirs, boot labs named after their process with each
 * container in a cgroup of its own (tests/boot/host.ts), the example app built once under a lock.
 *
 * Workers: MOCHA_JOBS, default 4 (also on 2 cores, for the waiting). One file alone stays
 * `npx mocha tests/x.spec.ts` (.mocharc.json, in-process).
 */
const { suiteFiles } = require("./tests/suite-files.cjs");

module.exports = {
  ...require("./.mocharc.json"),
  parallel: true,
  jobs: Number(process.env.MOCHA_JOBS) || 4,
  spec: suiteFiles(),
};
