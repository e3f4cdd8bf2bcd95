/**
 * The indexer and API: `ponder start` as a child process on PGlite (a folder) or Postgres
 * (DATABASE_URL), reading a chain and an Ignition deployment. There is no in-process Ponder
 * API, so this waits until its HTTP server answers.
 */
import path from "node:path";
import { BIN, ROOT } from "./chain.ts";
import { startProcess, waitFor } from "./process.ts";

export interface Indexer {
  url: string;
  /** Whether Ponder serves 200 on /ready (backfill done). */
  ready: () => Promise<boolean>;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

export async function startIndexerProcess(opts: {
  rpcUrl: string;
  deploymentDir: string;
  port: number;
  chainId?: number;
  databaseUrl?: string;
  /** PGlite's folder (without databaseUrl); default a fresh one under .ponder-test/. */
  pgliteDir?: string;
  schema?: string;
  viewsSchema?: string;
  /** Another Ponder app's root folder (its ponder.config.ts inside); default the real indexer. */
  root?: string;
  /** The path polled until the HTTP server answers 200; default /openapi.json. */
  upPath?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Indexer> {
  const env: NodeJS.ProcessEnv = {
    PONDER_TELEMETRY_DISABLED: "1",
    PONDER_RPC_URL: opts.rpcUrl,
    FABSTIR_DEPLOYMENT_DIR: opts.deploymentDir,
    FABSTIR_CHAIN_ID: String(opts.chainId ?? 31337),
    ...opts.env,
  };
  if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
  else
    env.FABSTIR_PGLITE_DIR =
      opts.pgliteDir ?? path.join(ROOT, ".ponder-test", `pglite-${opts.port}`);
  const proc = startProcess(
    path.join(BIN, "ponder"),
    [
      "start",
      "--config",
      opts.root ? "ponder.config.ts" : "../ponder.config.ts",
      "--schema",
      opts.schema ?? "fabstir",
      "--port",
      String(opts.port),
      ...(opts.viewsSchema ? ["--views-schema", opts.viewsSchema] : []),
    ],
    { cwd: opts.root ?? path.join(ROOT, "indexer"), env },
  );
  const url = `http://127.0.0.1:${opts.port}`;
  await waitFor(
    "ponder http server",
    async () => {
      if (proc.child.exitCode !== null) throw new Error("ponder exited");
      return (await fetch(`${url}${opts.upPath ?? "/openapi.json"}`)).ok ? true : undefined;
    },
    120_000,
  ).catch(async (e) => {
    await proc.stop();
    throw new Error(`${e}\n${proc.output()}`);
  });
  const ready = async () => (await fetch(`${url}/ready`)).status === 200;
  return { url, ready, output: proc.output, stop: proc.stop };
}
