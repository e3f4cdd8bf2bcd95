/**
 * Every code example in the README and docs/ runs here, against the local marketplace
 * started with `npm start`. So that tests never touch a marketplace the developer is
 * running, it gets its own data folder and free ports, and the examples' default URLs and
 * paths are rewritten to them before they run. By language:
 *   sh       each block runs as one bash script (set -e) from the repository root, with HOME
 *            set to a temp folder (so `~/...` paths stay out of the way)
 *   ts       written to a file in the repository and run with node
 *   graphql  POSTed to the indexer's /graphql; errors fail
 *   sql      run through the indexer's SQL over HTTP (@ponder/client)
 *   json     node configs are parsed with the node's config schema; other JSON must parse
 * Exceptions, each named: blocks that are exactly `npm install`/`npm test` (what CI itself
 * runs), `npm start` (this test runs it), and blocks marked `not-run="<reason>"` (listed
 * below: a GPU host, a Base Sepolia deploy, long-running servers, API sketches). The contract
 * reference must equal what scripts/gen-contract-docs.ts generates from the NatSpec.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient, sql } from "@ponder/client";
import { afterAll, beforeAll, describe, it } from "vitest";
import { ROOT } from "../../local/chain.ts";
import { freePort, type Proc, startProcess, waitFor } from "../../local/process.ts";
import { parseNodeConfig } from "../../node/config.ts";

interface Block {
  file: string;
  line: number;
  lang: string;
  info: string;
  code: string;
}

function blocksOf(file: string, text: string): Block[] {
  const out: Block[] = [];
  const re = /^```(\w+)([^\n]*)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(text); m; m = re.exec(text))
    out.push({
      file,
      line: text.slice(0, m.index).split("\n").length,
      lang: m[1] as string,
      info: (m[2] ?? "").trim(),
      code: m[3] as string,
    });
  return out;
}

const SKIPPED_COMMANDS = new Set([
  "npm install",
  "npm test",
  "npm start",
  "source scripts/use-node22.sh && npm install",
  "source scripts/use-node22.sh && npm install && npm start",
  "source scripts/use-node22.sh && npm test",
]);
// Order matters: the renter's examples create the jobs the host's examples then withdraw.
const ORDER = ["README.md", "renter-guide.md", "analyst-guide.md", "host-guide.md"];
const docFiles = [
  path.join(ROOT, "README.md"),
  ...(await readdir(path.join(ROOT, "docs")))
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join(ROOT, "docs", f)),
].sort((a, b) => {
  const rank = (f: string) => {
    const i = ORDER.indexOf(path.basename(f));
    return i < 0 ? ORDER.length : i;
  };
  return rank(a) - rank(b);
});
const blocks = (
  await Promise.all(
    docFiles.map(async (f) => blocksOf(path.relative(ROOT, f), await readFile(f, "utf8"))),
  )
).flat();

describe("the docs' code examples", () => {
  let market: Proc;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let rewrite: (code: string) => string = (c) => c;
  let cleanup: () => Promise<unknown> = async () => undefined;

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), "fabstir-docs-home-"));
    const dataDir = path.join(".fabstir", `docs-test-${process.pid}`);
    const [chain, api, gateway, host] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    rewrite = (code) =>
      code
        .replaceAll("127.0.0.1:8545", `127.0.0.1:${chain}`)
        .replaceAll("127.0.0.1:42069", `127.0.0.1:${api}`)
        .replaceAll("127.0.0.1:8787", `127.0.0.1:${gateway}`)
        .replaceAll(
          "ignition/deployments/fabstir-local",
          `ignition/deployments/fabstir-local-${path.basename(dataDir)}`,
        )
        .replaceAll(".fabstir/local", dataDir);
    env = {
      ...process.env,
      HOME: home,
      NO_COLOR: "1",
      FABSTIR_MARKETPLACE_FILE: path.join(ROOT, dataDir, "marketplace.json"),
    };
    cleanup = () =>
      Promise.all([
        rm(path.join(ROOT, dataDir), { recursive: true, force: true }),
        rm(path.join(ROOT, "ignition", "deployments", `fabstir-local-${path.basename(dataDir)}`), {
          recursive: true,
          force: true,
        }),
      ]);
    // `npm start` builds what is missing (npm test built it already), then runs
    // local/start.ts; npm itself is left out because it exits on Ctrl-C without waiting for
    // its child, and this test checks that Ctrl-C stops everything. (scripts/check-quickstart.sh
    // runs the real `npm start` on a fresh clone in CI.)
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8"));
    assert.equal(pkg.scripts.start, "node scripts/ensure-build.ts && node local/start.ts");
    const ports = [
      "--chain-port",
      chain,
      "--api-port",
      api,
      "--gateway-port",
      gateway,
      "--host-port",
      host,
    ];
    const args = ["local/start.ts", "--fresh", "--data-dir", dataDir, ...ports.map(String)];
    market = startProcess(process.execPath, args, { cwd: ROOT, env });
    await waitFor(
      "npm start to print the marketplace",
      async () => {
        if (market.child.exitCode !== null)
          throw new Error(`npm start exited:\n${market.output()}`);
        return market.output().includes("Fabstir local marketplace started") ? true : undefined;
      },
      240_000,
      500,
    ).catch((e) => {
      throw new Error(`${e}\n${market.output()}`);
    });
  });
  afterAll(async () => {
    if (market) {
      market.child.kill("SIGINT");
      const code = await Promise.race([
        market.exited,
        new Promise((r) => setTimeout(r, 30_000, "timeout")),
      ]);
      if (code === "timeout") await market.stop("SIGKILL");
      // Ctrl-C stops everything cleanly.
      assert.equal(code, 0, market.output());
      assert.match(market.output(), /stopped/);
    }
    if (home) await rm(home, { recursive: true, force: true });
    await cleanup();
  });

  it("finds examples in every guide", () => {
    for (const guide of ["renter-guide.md", "analyst-guide.md", "host-guide.md"])
      assert.ok(
        blocks.some((b) => b.file.endsWith(guide)),
        guide,
      );
    // The examples that cannot run here, each with its reason in the doc. A new one must be
    // added here on purpose.
    const notRun = blocks.filter((b) => b.info.startsWith("not-run"));
    for (const b of notRun) assert.match(b.info, /^not-run="[^"]{10,}"$/, `${b.file}:${b.line}`);
    assert.deepEqual(notRun.map((b) => b.file).sort(), [
      "docs/development.md",
      "docs/host-guide.md",
      "docs/host-node.md",
      "docs/host-node.md",
      "docs/indexer.md",
      "docs/node.md",
      "docs/node.md",
    ]);
  });

  it("has a contract reference generated from the current NatSpec", () => {
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, "scripts", "gen-contract-docs.ts"), "--check"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stderr);
  });

  for (const [i, b] of blocks.entries()) {
    const name = `${b.file}:${b.line} (${b.lang})`;
    if (b.info.startsWith("not-run") || b.lang === "text") continue;
    if (
      b.lang === "sh" &&
      b.code.split("\n").every((l) => !l.trim() || SKIPPED_COMMANDS.has(l.trim()))
    )
      continue;
    it(name, async () => {
      if (b.lang === "sh" || b.lang === "bash") {
        const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn("bash", ["-e", "-c", rewrite(b.code)], { cwd: ROOT, env });
          let out = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (out += d));
          const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
          child.on("exit", (code) => {
            clearTimeout(timer);
            resolve({ code, out });
          });
        });
        assert.equal(r.code, 0, r.out.slice(-4000));
      } else if (b.lang === "ts") {
        const file = path.join(ROOT, `.docs-example-${i}.ts`);
        await writeFile(file, rewrite(b.code));
        try {
          const r = spawnSync(process.execPath, [file], {
            cwd: ROOT,
            env,
            encoding: "utf8",
            timeout: 120_000,
          });
          assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
        } finally {
          await rm(file, { force: true });
        }
      } else if (b.lang === "graphql") {
        const res = await fetch(rewrite("http://127.0.0.1:42069/graphql"), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query: b.code }),
        });
        const body = (await res.json()) as { data?: unknown; errors?: unknown };
        assert.equal(res.status, 200);
        assert.equal(body.errors, undefined, JSON.stringify(body.errors));
        assert.ok(body.data);
      } else if (b.lang === "sql") {
        // The analysts' views schema exists on Postgres only; the same tables here have no prefix.
        const client = createClient(rewrite("http://127.0.0.1:42069/sql"));
        for (const statement of b.code.split(";").filter((q) => q.trim()))
          await client.db.execute(sql.raw(statement.replaceAll("fabstir_views.", "")));
      } else if (b.lang === "json") {
        const value = JSON.parse(b.code);
        if (value && typeof value === "object" && "models" in value) parseNodeConfig(value, home);
      } else assert.fail(`no runner for ${b.lang} blocks: add one, or mark the block`);
    });
  }
});
