/**
 * Indexer and discovery API benchmarks (issue 3), each against a baseline measured in the
 * same run, on real parts: a Hardhat node on loopback, Ponder on the local Postgres server.
 *
 *   node bench/indexer.ts            (npm run bench:indexer)
 *
 * 1. Backfill: a generated history (BENCH_HOSTS hosts, BENCH_JOBS jobs, every event type)
 *    is backfilled by the real indexer (full schema, derived state) and by a minimal
 *    one-table Ponder app over the same events (bench/minimal-indexer), each on a fresh
 *    database. Rate = events / backfill time from Ponder's own "Started/Completed backfill"
 *    log lines (RPC fetching included for both).
 * 2. Discovery: GET /hosts (several filter/sort mixes) and /hosts/:address with every host
 *    registered, under load from a second process (bench/lib/http-load.ts) on loopback;
 *    baseline: Ponder's trivial /health route under the same load.
 * 3. Realtime lag: a job posted on the chain until GET /jobs/:id answers 200; baseline:
 *    the same transaction until the node returns its receipt.
 *
 * Targets (issue 3): backfill >= 0.7 of the minimal app and >= 2000 events/s; discovery
 * p99 <= 20 ms and >= 2000 requests/s; realtime lag < 1 s.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import pg from "pg";
import { keccak256, stringToHex, zeroAddress } from "viem";
import { jobMarketplaceAbi } from "../abis/index.ts";
import { generateHistory, HISTORY_MODEL } from "../fixtures/history.ts";
import {
  freshPostgres,
  type Indexer,
  type LocalChain,
  ROOT,
  startIndexer,
  startLocalChain,
  waitFor,
} from "../fixtures/local-chain.ts";
import { fmt, median, percentile, printTable, verdict } from "./lib/stats.ts";

const HOSTS = Number(process.env.BENCH_HOSTS ?? 10_000);
const JOBS = Number(process.env.BENCH_JOBS ?? 3_000);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const LAG_SAMPLES = Number(process.env.BENCH_LAG_SAMPLES ?? 30);

const log = (...args: unknown[]) =>
  console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...args);

/** Milliseconds of the day from a Ponder log line's "HH:MM:SS.mmm" prefix. */
function logTime(output: string, pattern: RegExp): number {
  const line = output.split("\n").find((l) => pattern.test(l));
  const m = line && /^(\d\d):(\d\d):(\d\d)\.(\d\d\d)/.exec(line);
  if (!m) throw new Error(`no log line matching ${pattern}:\n${output.slice(-3000)}`);
  const [h, min, s, ms] = m.slice(1).map(Number) as [number, number, number, number];
  return ((h * 60 + min) * 60 + s) * 1000 + ms;
}

interface BackfillRun {
  app: string;
  events: number;
  seconds: number;
  rate: number;
}

async function backfill(
  chain: LocalChain,
  app: "full" | "minimal",
): Promise<{ run: BackfillRun; indexer: Indexer; dbUrl: string; drop: () => Promise<void> }> {
  const db = await freshPostgres();
  const indexer = await startIndexer(chain, {
    databaseUrl: db.url,
    schema: "bench",
    ...(app === "minimal"
      ? { root: path.join(ROOT, "bench", "minimal-indexer"), upPath: "/health" }
      : {}),
  });
  await waitFor("backfill", async () => ((await indexer.ready()) ? true : undefined), 1_800_000);
  const out = indexer.output();
  const ms =
    logTime(out, /Completed backfill indexing/) - logTime(out, /Started backfill indexing/);
  const client = new pg.Client(db.url);
  await client.connect();
  const table = app === "minimal" ? "bench.event" : "bench.event_log";
  const events = Number((await client.query(`select count(*) as n from ${table}`)).rows[0].n);
  await client.end();
  const run = { app, events, seconds: ms / 1000, rate: events / (ms / 1000) };
  return { run, indexer, dbUrl: db.url, drop: db.drop };
}

interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  latencies: Record<string, number[]>;
}

function load(
  base: string,
  paths: string[],
  headers?: Record<string, string>,
): Promise<LoadResult> {
  const options = {
    base,
    paths,
    headers,
    concurrency: CONCURRENCY,
    durationMs: LOAD_SECONDS * 1000,
    warmupMs: 2_000,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, "bench/lib/http-load.ts"), JSON.stringify(options)],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("exit", (code) =>
      code === 0
        ? resolve(JSON.parse(out) as LoadResult)
        : reject(new Error(`load exited ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  log(`starting a local chain; generating ${HOSTS} hosts and ${JOBS} jobs`);
  const chain = await startLocalChain();
  const cleanups: (() => Promise<void>)[] = [() => chain.stop()];
  try {
    const t0 = Date.now();
    const history = await generateHistory(chain, {
      hosts: HOSTS,
      jobs: JOBS,
      // The minimal baseline (bench/minimal-indexer) indexes the four job-flow contracts only:
      // no sessions, so both index the same events (bar a few SessionManager admin events).
      sessions: 0,
      hostsPerBlock: 40,
      underStaked: 5,
      deregistered: 5,
      onProgress: (w) => {
        if (!w.startsWith("registering") || w.includes("000/")) log(w);
      },
    });
    // Push the whole history below Ponder's finality depth (30 blocks on 31337) so it is all backfill.
    await chain.mine(31);
    log(
      `history: ${history.transactions} transactions, ${history.events} events, blocks ${history.firstBlock}..${history.lastBlock} in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );

    // ---- 1. backfill: minimal app first, then the real indexer (kept running for 2 and 3).
    log("backfill: minimal one-table app");
    const minimal = await backfill(chain, "minimal");
    await minimal.indexer.stop();
    await minimal.drop();
    log("backfill: full indexer");
    const full = await backfill(chain, "full");
    cleanups.push(full.drop, () => full.indexer.stop());
    const url = full.indexer.url;
    // Ponder builds its indexes after the backfill but leaves statistics to autovacuum, which
    // may take minutes; measure the steady state, as after autovacuum's first pass.
    const admin = new pg.Client(full.dbUrl);
    await admin.connect();
    await admin.query("analyze");
    await admin.end();

    // ---- 2. discovery under load.
    const sample = history.hosts.slice(0, 50);
    const discovery = [
      "/hosts?model=llama-3.1-8b&sort=price&limit=20",
      `/hosts?model=llama-3.1-8b&sort=price&maxPrice=${999_950_000_000}&limit=20`,
      "/hosts?sort=score&limit=20",
      "/hosts?region=eu-west&gpu=4090&sort=recent&limit=20",
      ...sample.slice(0, 4).map((h) => `/hosts/${h}`),
    ];
    for (const p of discovery) {
      const res = await fetch(`${url}${p}`);
      if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`);
    }
    log(`discovery: ${CONCURRENCY} connections for ${LOAD_SECONDS} s, baseline /health`);
    const baseline = await load(url, ["/health"]);
    // Every request reaches the database (the cache is bypassed), then the same with the cache.
    const uncached = await load(url, discovery, { "cache-control": "no-cache" });
    const cached = await load(url, discovery);

    // ---- 3. realtime lag: post a job, wait until the API serves it.
    log(`realtime lag: ${LAG_SAMPLES} jobs`);
    const renter = chain.wallet(1);
    const block = await chain.publicClient.getBlock();
    const lags: number[] = [];
    const receipts: number[] = [];
    let nextId = (await chain.publicClient.readContract({
      address: chain.addresses.JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "nextJobId",
    })) as bigint;
    for (let i = 0; i < LAG_SAMPLES; i++) {
      const id = nextId++;
      const sent = performance.now();
      const hash = await renter.writeContract({
        address: chain.addresses.JobMarketplace,
        abi: jobMarketplaceAbi,
        functionName: "postJob",
        chain: null,
        gas: 400_000n,
        value: 1_000n * 1_000_000_000_000n,
        args: [
          {
            modelId: HISTORY_MODEL,
            promptHash: keccak256(stringToHex(`lag-${i}`)),
            token: zeroAddress,
            maxTokens: 1_000,
            maxPricePerToken: 1_000_000_000_000n,
            deadline: block.timestamp + 30n * 86_400n,
            host: zeroAddress,
            minScore: 0,
          },
        ],
      });
      const receiptAt = await (async () => {
        for (;;) {
          const r = await chain.publicClient.getTransactionReceipt({ hash }).catch(() => undefined);
          if (r) return performance.now();
          await new Promise((res) => setTimeout(res, 2));
        }
      })();
      for (;;) {
        const res = await fetch(`${url}/jobs/${id}`);
        await res.arrayBuffer();
        if (res.status === 200) break;
        await new Promise((res) => setTimeout(res, 5));
      }
      lags.push(performance.now() - sent);
      receipts.push(receiptAt - sent);
      await new Promise((res) => setTimeout(res, 50 + Math.random() * 200));
    }

    // ---- report
    console.log(`\nIndexer benchmarks: ${HOSTS} hosts, ${JOBS} jobs, ${history.events} events`);
    console.log("\n1. Backfill on Postgres (events / backfill time, RPC fetching included)");
    const ratio = full.run.rate / minimal.run.rate;
    printTable([
      ["app", "events", "seconds", "events/s"],
      ...[minimal.run, full.run].map((r) => [r.app, r.events, fmt(r.seconds, 2), fmt(r.rate, 0)]),
    ]);
    console.log(
      `full / minimal = ${fmt(ratio, 2)} (target >= 0.70: ${verdict(ratio >= 0.7)}); full ${fmt(full.run.rate, 0)} events/s (target >= 2000: ${verdict(full.run.rate >= 2000)})`,
    );

    console.log(
      `\n2. Discovery under load (${CONCURRENCY} keep-alive connections from a second process, ${LOAD_SECONDS} s per row)`,
    );
    const rows: (string | number)[][] = [["route", "requests", "p50 ms", "p99 ms"]];
    for (const [p, l] of Object.entries(uncached.latencies)) {
      const label = p.length > 60 ? `${p.slice(0, 57)}...` : p;
      rows.push([label, l.length, fmt(median(l), 2), fmt(percentile(l, 99), 2)]);
    }
    const summary = (label: string, r: LoadResult) => {
      const l = Object.values(r.latencies).flat();
      rows.push([label, l.length, fmt(median(l), 2), fmt(percentile(l, 99), 2)]);
      return { rps: r.requests / r.seconds, p99: percentile(l, 99), errors: r.errors };
    };
    const u = summary("all discovery, uncached", uncached);
    const k = summary("all discovery, cached (500 ms)", cached);
    const b = summary("baseline /health", baseline);
    printTable(rows);
    for (const [label, r] of [
      ["uncached", u],
      ["cached", k],
    ] as const) {
      console.log(
        `${label}: ${fmt(r.rps, 0)} req/s (errors ${r.errors}), p99 ${fmt(r.p99, 2)} ms; targets p99 <= 20 ms: ${verdict(r.p99 <= 20)}, >= 2000 req/s: ${verdict(r.rps >= 2000)}`,
      );
    }
    console.log(`baseline /health: ${fmt(b.rps, 0)} req/s, p99 ${fmt(b.p99, 2)} ms`);

    console.log("\n3. Realtime lag (transaction sent -> visible)");
    printTable([
      ["what", "p50 ms", "p99 ms", "max ms"],
      [
        "node receipt (baseline)",
        fmt(median(receipts)),
        fmt(percentile(receipts, 99)),
        fmt(Math.max(...receipts)),
      ],
      ["GET /jobs/:id", fmt(median(lags)), fmt(percentile(lags, 99)), fmt(Math.max(...lags))],
    ]);
    console.log(
      `lag p99 ${fmt(percentile(lags, 99))} ms (target < 1000: ${verdict(percentile(lags, 99) < 1000)})`,
    );
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }
}

await main();
