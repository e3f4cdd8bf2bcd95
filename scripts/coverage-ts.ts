/**
 * `npm run coverage:ts`: runs the vitest suites with v8 coverage (`vitest run --coverage`;
 * extra arguments go to vitest, e.g. `-- --project node`), then prints lines % and
 * branches % of the TypeScript code per top-level folder (node/, renter/, protocol/, ...)
 * from the json-summary report (`coverage/ts/coverage-summary.json`; the HTML report and
 * lcov.info are beside it). Exits with vitest's exit code.
 *
 * Only code that runs inside vitest's own test processes is measured: what the tests start
 * as child processes (Ponder with the indexer and the API, `hardhat node`, `node
 * local/start.ts`, the CLIs) is not, so those folders read lower than what the tests exercise.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

interface Totals {
  total: number;
  covered: number;
}
type Summary = Record<string, { lines: Totals; branches: Totals }>;

const root = path.resolve(import.meta.dirname, "..");
const file = path.join(root, "coverage", "ts", "coverage-summary.json");
rmSync(file, { force: true });
const vitest = spawnSync(
  path.join(root, "node_modules", ".bin", "vitest"),
  ["run", "--coverage", ...process.argv.slice(2)],
  { cwd: root, stdio: "inherit" },
);
const code = vitest.status ?? 1;
if (!existsSync(file)) {
  process.stderr.write(`no coverage summary at ${path.relative(root, file)}\n`);
  process.exit(code || 1);
}
const summary = JSON.parse(readFileSync(file, "utf8")) as Summary;

const folders = new Map<string, { files: number; lines: Totals; branches: Totals }>();
const add = (a: Totals, b: Totals) => {
  a.total += b.total;
  a.covered += b.covered;
};
for (const [name, s] of Object.entries(summary)) {
  if (name === "total") continue;
  const folder = path.relative(root, name).split(path.sep)[0] ?? name;
  const f = folders.get(folder) ?? {
    files: 0,
    lines: { total: 0, covered: 0 },
    branches: { total: 0, covered: 0 },
  };
  f.files += 1;
  add(f.lines, s.lines);
  add(f.branches, s.branches);
  folders.set(folder, f);
}

const pct = (t: Totals) => (t.total === 0 ? "-" : `${((100 * t.covered) / t.total).toFixed(1)}%`);
const rows = [...folders.entries()].sort(([a], [b]) => a.localeCompare(b));
const all = { files: 0, lines: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 } };
for (const [, f] of rows) {
  all.files += f.files;
  add(all.lines, f.lines);
  add(all.branches, f.branches);
}
const table = [
  ["folder", "files", "lines %", "lines", "branches %", "branches"],
  ...[...rows, ["total", all] as const].map(([name, f]) => [
    `${name}`,
    String(f.files),
    pct(f.lines),
    `${f.lines.covered}/${f.lines.total}`,
    pct(f.branches),
    `${f.branches.covered}/${f.branches.total}`,
  ]),
];
const widths = (table[0] ?? []).map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length)));
for (const [i, r] of table.entries()) {
  const line = r.map((c, j) => (j === 0 ? c.padEnd(widths[j] ?? 0) : c.padStart(widths[j] ?? 0)));
  process.stdout.write(`${line.join("  ")}\n`);
  if (i === 0) process.stdout.write(`${widths.map((w) => "-".repeat(w)).join("  ")}\n`);
}
process.exitCode = code;
