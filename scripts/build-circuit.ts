/**
 * Builds the output-count circuit (circuits/output_count.circom) and its Groth16 setup, ONCE:
 * the outputs are committed, so neither CI nor `npm start` ever runs this. Steps:
 *
 *   1. compile with circom 2 (the wasm build in the `circom2` package; --O2 folds the linear
 *      constraints away, so the circuit fits a power-of-tau of 12);
 *   2. a local powers-of-tau of the smallest power that fits, one random contribution,
 *      prepared for phase 2 (kept under circuits/.cache/, ignored by git, so a rebuild of the
 *      circuit skips the ~2.5 minutes this takes);
 *   3. phase 2: the circuit's zkey and one random contribution; the entropy is never written
 *      anywhere (a single-party setup: see circuits/README.md for what that means);
 *   4. exports: circuits/build/output_count.wasm.gz (the witness generator) and
 *      output_count.zkey.gz (the proving key), both gzipped, verification_key.json, setup.json (what was built, with digests),
 *      and the Solidity verifier contracts/proofs/generated/OutputCountGroth16Verifier.sol;
 *   5. a check: one proof made from the exported files verifies with the exported key.
 *
 *   npm run circuit:build            (about 3-4 minutes on 2 cores, most of it step 2)
 */
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import * as snarkjs from "snarkjs";
import { CHUNK_TOKENS, chunkInput, PUBLIC_SIGNALS } from "../protocol/proofs.ts";

const require = createRequire(import.meta.url);
// snarkjs's package exports neither its templates nor its package.json: locate its folder.
const SNARKJS_DIR = path.resolve(path.dirname(require.resolve("snarkjs")), "..");
const ROOT = path.resolve(import.meta.dirname, "..");
const CIRCUIT = "output_count";
const SOURCE = path.join(ROOT, "circuits", `${CIRCUIT}.circom`);
const BUILD = path.join(ROOT, "circuits", "build");
const CACHE = path.join(ROOT, "circuits", ".cache");
const VERIFIER = path.join(
  ROOT,
  "contracts",
  "proofs",
  "generated",
  "OutputCountGroth16Verifier.sol",
);

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const kib = (file: string) => `${Math.round(statSync(file).size / 1024)} KiB`;

async function timed<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await f();
  say(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}

function compile(outDir: string): void {
  const cli = require.resolve("circom2/cli.js");
  const r = spawnSync(process.execPath, [cli, SOURCE, "--r1cs", "--wasm", "--O2", "-o", outDir], {
    cwd: ROOT,
    encoding: "utf8",
  });
  process.stdout.write(r.stdout);
  if (r.status !== 0) throw new Error(`circom failed (${r.status}): ${r.stderr}`);
}

async function preparedPtau(power: number): Promise<string> {
  const prepared = path.join(CACHE, `pot${power}_prepared.ptau`);
  if (existsSync(prepared)) {
    say(`powers of tau: reusing ${path.relative(ROOT, prepared)}`);
    return prepared;
  }
  const curve = await snarkjs.curves.getCurveFromName("bn128");
  const p0 = path.join(CACHE, `pot${power}_0.ptau`);
  const p1 = path.join(CACHE, `pot${power}_1.ptau`);
  await timed(`powers of tau ${power}: new`, () =>
    snarkjs.powersOfTau.newAccumulator(curve, power, p0),
  );
  await timed("powers of tau: contribute", () =>
    snarkjs.powersOfTau.contribute(p0, p1, "fabstir local", randomBytes(32).toString("hex")),
  );
  await timed("powers of tau: prepare phase 2", () =>
    snarkjs.powersOfTau.preparePhase2(p1, prepared),
  );
  rmSync(p0);
  rmSync(p1);
  return prepared;
}

async function main(): Promise<void> {
  mkdirSync(BUILD, { recursive: true });
  mkdirSync(CACHE, { recursive: true });
  mkdirSync(path.dirname(VERIFIER), { recursive: true });
  const work = path.join(CACHE, "compile");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  await timed("compile", async () => compile(work));
  const r1cs = path.join(work, `${CIRCUIT}.r1cs`);
  const info = await snarkjs.r1cs.info(r1cs);
  if (info.nPubInputs + info.nOutputs !== PUBLIC_SIGNALS.length) {
    throw new Error(`expected ${PUBLIC_SIGNALS.length} public signals, got ${info.nPubInputs}`);
  }
  // Groth16's domain holds the constraints plus one per public signal plus one.
  const needed = info.nConstraints + info.nPubInputs + info.nOutputs + 1;
  const power = Math.max(8, Math.ceil(Math.log2(needed)));
  say(`constraints: ${info.nConstraints}, wires: ${info.nVars}, power of tau: ${power}`);

  const ptau = await preparedPtau(power);
  const zkey0 = path.join(work, `${CIRCUIT}_0.zkey`);
  const zkey = path.join(work, `${CIRCUIT}.zkey`);
  await timed("phase 2: new zkey", () => snarkjs.zKey.newZKey(r1cs, ptau, zkey0));
  await timed("phase 2: contribute", () =>
    snarkjs.zKey.contribute(zkey0, zkey, "fabstir local", randomBytes(32).toString("hex")),
  );

  const vkey = await snarkjs.zKey.exportVerificationKey(zkey);
  const vkeyFile = path.join(BUILD, "verification_key.json");
  writeFileSync(vkeyFile, `${JSON.stringify(vkey, null, 2)}\n`);

  const template = readFileSync(
    path.join(SNARKJS_DIR, "templates", "verifier_groth16.sol.ejs"),
    "utf8",
  );
  const solidity = await snarkjs.zKey.exportSolidityVerifier(zkey, { groth16: template });
  const renamed = solidity.replace(
    "contract Groth16Verifier",
    "contract OutputCountGroth16Verifier",
  );
  if (renamed === solidity) throw new Error("unexpected verifier template: no Groth16Verifier");
  writeFileSync(
    VERIFIER,
    `// Generated by scripts/build-circuit.ts from circuits/${CIRCUIT}.circom and the zkey in\n` +
      "// circuits/build/ (snarkjs's Groth16 template, renamed). Do not edit: rebuild instead.\n" +
      renamed,
  );

  // Both are gzipped (the zkey to 60%, the wasm to 30%): protocol/proofs.ts unzips them.
  const wasm = path.join(BUILD, `${CIRCUIT}.wasm.gz`);
  writeFileSync(
    wasm,
    gzipSync(readFileSync(path.join(work, `${CIRCUIT}_js`, `${CIRCUIT}.wasm`)), { level: 9 }),
  );
  const zkeyGz = path.join(BUILD, `${CIRCUIT}.zkey.gz`);
  writeFileSync(zkeyGz, gzipSync(readFileSync(zkey), { level: 9 }));

  // A proof from the exported files must verify with the exported key.
  const input = chunkInput({ binding: 7n, prevCommitment: 7n, tokenIds: [1, 2, 3] });
  const { proof, publicSignals } = await snarkjs.groth16.fullProve(
    input,
    { type: "mem", data: new Uint8Array(gunzipSync(readFileSync(wasm))) },
    { type: "mem", data: new Uint8Array(gunzipSync(readFileSync(zkeyGz))) },
  );
  if (!(await snarkjs.groth16.verify(vkey, publicSignals, proof))) {
    throw new Error("a proof from the exported files did not verify");
  }

  const setup = {
    circuit: `circuits/${CIRCUIT}.circom`,
    chunkTokens: CHUNK_TOKENS,
    publicSignals: PUBLIC_SIGNALS,
    constraints: info.nConstraints,
    wires: info.nVars,
    powerOfTau: power,
    ceremony: "single-party local setup (not a multi-party ceremony): see circuits/README.md",
    tools: {
      circom2: require("circom2/package.json").version,
      snarkjs: JSON.parse(readFileSync(path.join(SNARKJS_DIR, "package.json"), "utf8")).version,
      circomlib: require("circomlib/package.json").version,
    },
    sha256: {
      [path.basename(wasm)]: sha256(wasm),
      [path.basename(zkeyGz)]: sha256(zkeyGz),
      [path.basename(vkeyFile)]: sha256(vkeyFile),
      [path.relative(ROOT, VERIFIER)]: sha256(VERIFIER),
    },
  };
  writeFileSync(path.join(BUILD, "setup.json"), `${JSON.stringify(setup, null, 2)}\n`);
  rmSync(work, { recursive: true, force: true });
  for (const f of [wasm, zkeyGz, vkeyFile, VERIFIER]) say(`${path.relative(ROOT, f)}: ${kib(f)}`);
}

try {
  await main();
} finally {
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
}
