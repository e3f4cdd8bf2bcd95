/**
 * BENCH_PIN=1 (Linux, `taskset` from util-linux): the engine's worker process on the last CPU
 * core and this process (transports, clients) on the others, so the engine has a core of its
 * own, as on a GPU host with cores to spare. Without it the OS places every thread; on this
 * 2-core VM that moves the engine's threads between cores, which costs it more than the
 * transports do (docs/host-node.md#streaming has both sets of figures).
 */
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";

export const PIN = process.env.BENCH_PIN === "1";

/** Pins the worker processes (all their threads) to the last core and this process to the rest. */
export function pinEngine(workerPids: (number | undefined)[]): string {
  if (!PIN) return "threads placed by the OS";
  const cores = availableParallelism();
  if (cores < 2 || workerPids.some((p) => p === undefined))
    throw new Error("BENCH_PIN needs 2 cores and running workers");
  const last = String(cores - 1);
  const rest = cores === 2 ? "0" : `0-${cores - 2}`;
  for (const pid of workerPids) execFileSync("taskset", ["-a", "-cp", last, String(pid)]);
  execFileSync("taskset", ["-a", "-cp", rest, String(process.pid)]);
  return `engine's worker process pinned to core ${last}, this process to core(s) ${rest}`;
}
