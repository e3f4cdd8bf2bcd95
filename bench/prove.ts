/**
 * What output-count proofs cost a host (protocol/proofs.ts over the committed setup in
 * circuits/build/): Groth16 proving time per 64-token chunk, cold (the first proof in a
 * process: worker threads, curve and wasm set up) and warm, for outputs of 1 and 4 chunks, and
 * the JS verification time of one chunk. The baseline, measured in the same run, is computing
 * the same output's Poseidon commitment alone (what a host or renter pays without a proof), so
 * the report says how much the proof adds on top of the commitment.
 *
 *   npm run bench:prove
 *
 * BENCH_RUNS (default 5) sets the warm runs per size.
 */
import { availableParallelism } from "node:os";
import {
  bindingOf,
  CHUNK_TOKENS,
  disposeProver,
  loadArtifacts,
  outputCommitment,
  ProofWork,
  proveOutput,
  verifyChunk,
} from "../protocol/proofs.ts";
import { fmt, median, printTable, verdict } from "./lib/stats.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const binding = bindingOf({
  kind: ProofWork.Job,
  id: 1n,
  modelId: `0x${"11".repeat(32)}`,
  requestHash: `0x${"22".repeat(32)}`,
});
const tokens = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => (seed * 7_919 + i * 104_729) % 32_000);

async function ms<T>(f: () => Promise<T> | T): Promise<[number, T]> {
  const t0 = performance.now();
  const out = await f();
  return [performance.now() - t0, out];
}

const [loadMs, artifacts] = await ms(() => loadArtifacts());
// Cold: the first proof in the process.
const [coldMs, cold] = await ms(() =>
  proveOutput({ binding, tokenIds: tokens(CHUNK_TOKENS, 0), artifacts }),
);

const rows: (string | number)[][] = [
  ["output", "chunks", "commitment only (ms)", "prove p50 (ms)", "per chunk (ms)", "x baseline"],
];
const perChunk: Record<number, number> = {};
for (const chunks of [1, 4]) {
  const commitMs: number[] = [];
  const proveMs: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const out = tokens(chunks * CHUNK_TOKENS, run);
    commitMs.push((await ms(() => outputCommitment(binding, out)))[0]);
    proveMs.push((await ms(() => proveOutput({ binding, tokenIds: out, artifacts })))[0]);
  }
  const p50 = median(proveMs);
  perChunk[chunks] = p50 / chunks;
  rows.push([
    `${chunks * CHUNK_TOKENS} tokens`,
    chunks,
    fmt(median(commitMs), 2),
    fmt(p50, 0),
    fmt(p50 / chunks, 0),
    fmt(p50 / median(commitMs), 0),
  ]);
}

const verifyMs: number[] = [];
const chunk = cold.chunks[0];
if (!chunk) throw new Error("no chunk proven");
for (let run = 0; run < RUNS; run++) {
  const [t, ok] = await ms(() => verifyChunk(chunk, artifacts));
  if (!ok) throw new Error("a proof did not verify");
  verifyMs.push(t);
}
await disposeProver();

console.log(
  `output-count proofs: ${CHUNK_TOKENS} tokens per chunk, ${RUNS} warm runs per size, ${availableParallelism()} cores`,
);
console.log(`   load setup (gunzip wasm + zkey): ${fmt(loadMs, 0)} ms`);
console.log(`   cold proof (first in process, 1 chunk): ${fmt(coldMs, 0)} ms`);
printTable(rows);
console.log(`   JS verify, one chunk: p50 ${fmt(median(verifyMs), 1)} ms`);
const scaling = (perChunk[4] ?? 0) / (perChunk[1] ?? 1);
console.log(
  `   4 chunks cost ${fmt(scaling, 2)}x one chunk per chunk: ${verdict(scaling <= 1.1)} (linear: <= 1.1)`,
);
