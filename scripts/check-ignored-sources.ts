/**
 * Fails when a source file (.ts, .sol) outside the generated folders is ignored by git:
 * a too-broad .gitignore rule once hid node/cache/ from commits while every local test
 * passed. Skipped outside a git checkout.
 */
import { execFileSync } from "node:child_process";

const GENERATED =
  /^(node_modules|\.tools|\.scratch|abis|artifacts|cache|types|coverage|models|indexer\/generated|bench\/minimal-indexer\/generated|\.ponder-test|ignition\/deployments)\/|\/\.ponder\//;

let listed: string;
try {
  listed = execFileSync(
    "git",
    ["ls-files", "--others", "--ignored", "--exclude-standard", "--", "*.ts", "*.sol"],
    {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    },
  );
} catch {
  console.log("not a git checkout: skipped");
  process.exit(0);
}
const hidden = listed.split("\n").filter((f) => f && !GENERATED.test(f));
if (hidden.length > 0) {
  console.error(
    `source files ignored by .gitignore (they would never be committed):\n  ${hidden.join("\n  ")}`,
  );
  process.exit(1);
}
console.log("no source file is ignored by git");
