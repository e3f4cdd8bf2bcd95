/**
 * The project's test command (`npm test`): lint, build (contracts + typed ABIs),
 * typecheck, then every test suite. Prints each step's output, then one line
 * `N passed, N failed` with the totals of all suites (lint and typecheck count as
 * one check each). Exits non-zero when anything failed.
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const bin = (name: string) => path.join(root, "node_modules", ".bin", name);

interface Step {
  name: string;
  cmd: string;
  args: string[];
  /** Runs before the command (e.g. removes a stale report). */
  prepare?: () => void;
  /** Counts tests from the output; a step without a parser counts as one check. */
  parse?: (output: string) => { passed: number; failed: number };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "");

/** Hardhat's summary: "12 passing (3 solidity, 9 nodejs)", "2 failing". */
function parseHardhat(output: string) {
  const text = stripAnsi(output);
  const passing = [...text.matchAll(/^\s*(\d+) passing/gm)].map((m) => Number(m[1]));
  const failing = [...text.matchAll(/^\s*(\d+) failing/gm)].map((m) => Number(m[1]));
  const passed = passing.at(-1) ?? 0;
  const failed = failing.at(-1) ?? 0;
  return { passed, failed };
}

/** The subset of vitest's JSON report (`--reporter=json`) that the counts need. */
interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  testResults: { status: string; assertionResults: { status: string }[] }[];
}

/**
 * A vitest project as one step: the verbose reporter (every test, with its annotations) for
 * people, the JSON report for the counts. A file that failed outside its tests (a failing
 * beforeAll/afterAll, a worker that crashed, an import that threw) counts each of its tests
 * that did not run as failed (as node:test did), and at least one; a run that wrote no
 * report counts as none here and fails by its exit code.
 */
function vitestStep(name: string): Step {
  const report = path.join(tmpdir(), `fabstir-vitest-${process.pid}-${name}.json`);
  return {
    name,
    cmd: bin("vitest"),
    args: [
      "run",
      "--project",
      name,
      "--reporter=verbose",
      "--reporter=json",
      `--outputFile.json=${report}`,
    ],
    prepare: () => rmSync(report, { force: true }),
    parse: () => {
      let json: VitestReport;
      try {
        json = JSON.parse(readFileSync(report, "utf8")) as VitestReport;
      } catch {
        return { passed: 0, failed: 0 };
      }
      rmSync(report, { force: true });
      let outsideTests = 0;
      for (const f of json.testResults) {
        if (f.status !== "failed" || f.assertionResults.some((t) => t.status === "failed"))
          continue;
        const notRun = f.assertionResults.filter((t) => t.status !== "passed").length;
        outsideTests += Math.max(1, notRun);
      }
      return { passed: json.numPassedTests, failed: json.numFailedTests + outsideTests };
    },
  };
}

const steps: Step[] = [
  { name: "lint", cmd: bin("biome"), args: ["check", "."] },
  {
    name: "ignored-sources",
    cmd: process.execPath,
    args: [path.join(root, "scripts", "check-ignored-sources.ts")],
  },
  { name: "build", cmd: bin("hardhat"), args: ["build", "--build-profile", "default"] },
  { name: "abis", cmd: process.execPath, args: [path.join(root, "scripts", "gen-abis.ts")] },
  { name: "typecheck", cmd: bin("tsc"), args: ["--noEmit", "-p", "."] },
  { name: "contracts", cmd: bin("hardhat"), args: ["test"], parse: parseHardhat },
  // The vitest projects of vitest.config.ts, one file at a time:
  // Cross-component: a real Hardhat node, Ignition deploy, Ponder on PGlite and Postgres; and
  // the tests beside the indexer's and the API's code.
  vitestStep("indexer"),
  // The units beside their code in node/, protocol/, renter/ and local/ (generated GGUF
  // models, node-llama-cpp on CPU, libp2p on loopback).
  vitestStep("node"),
  // The whole marketplace as `npm start` runs it, driven by the renter's tools; and the docs' examples.
  vitestStep("e2e"),
  {
    name: "error-coverage",
    cmd: process.execPath,
    args: [path.join(root, "scripts", "check-error-coverage.ts")],
  },
];

function run(step: Step): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(step.cmd, step.args, { cwd: root, env: process.env });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d;
      process.stderr.write(d);
    });
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

let passed = 0;
let failed = 0;
const only = process.argv.slice(2);
for (const step of steps) {
  if (only.length > 0 && !only.includes(step.name)) continue;
  process.stdout.write(`\n=== ${step.name} ===\n`);
  const started = Date.now();
  step.prepare?.();
  const { code, output } = await run(step);
  if (step.parse) {
    const counts = step.parse(output);
    passed += counts.passed;
    // A crash before any summary still counts as a failure; so does a suite that found no tests.
    failed += counts.failed > 0 || code === 0 ? counts.failed : 1;
    if (counts.passed + counts.failed === 0 && code === 0) {
      process.stdout.write(`${step.name}: no tests ran\n`);
      failed += 1;
    }
  } else if (code === 0) {
    passed += 1;
  } else {
    failed += 1;
  }
  process.stdout.write(
    `=== ${step.name}: exit ${code} in ${((Date.now() - started) / 1000).toFixed(1)} s ===\n`,
  );
  // Later steps need the build; stop early when it fails.
  if (code !== 0 && (step.name === "build" || step.name === "abis")) break;
}
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
