/**
 * HTTP load generator, run as its own process so that it does not share an event loop with
 * what it measures: `node bench/lib/http-load.ts '<json options>'`. Keeps `concurrency`
 * keep-alive connections busy for `durationMs` (after `warmupMs` not counted), cycling
 * through `paths`, and prints one JSON line: requests, errors, seconds and per-path latencies.
 */
import http from "node:http";

interface Options {
  base: string;
  paths: string[];
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  headers?: Record<string, string>;
}

const opts = JSON.parse(process.argv[2] ?? "{}") as Options;
const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
const url = new URL(opts.base);

function get(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: url.hostname, port: url.port, path, agent, headers: opts.headers },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => resolve(res.statusCode ?? 0));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
  });
}

const latencies: Record<string, number[]> = Object.fromEntries(opts.paths.map((p) => [p, []]));
let requests = 0;
let errors = 0;
let next = 0;
const started = performance.now();
const measureFrom = started + opts.warmupMs;
const end = measureFrom + opts.durationMs;

async function loop(): Promise<void> {
  while (performance.now() < end) {
    const path = opts.paths[next++ % opts.paths.length] as string;
    const t0 = performance.now();
    let status = 0;
    try {
      status = await get(path);
    } catch {
      status = 0;
    }
    const t1 = performance.now();
    if (t0 < measureFrom) continue;
    requests++;
    if (status !== 200) errors++;
    latencies[path]?.push(t1 - t0);
  }
}

await Promise.all(Array.from({ length: opts.concurrency }, loop));
const seconds = (performance.now() - measureFrom) / 1000;
agent.destroy();
console.log(JSON.stringify({ requests, errors, seconds, latencies }));
