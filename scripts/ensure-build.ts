/**
 * Builds what the programs need when it is missing or older than its sources: the contracts'
 * artifacts (Hardhat, offline solc) and the typed ABI modules in `abis/` (gen-abis.ts).
 * `npm start`, `npm run host` and `npm run renter` run this first, so the README's first
 * command works on a fresh clone with nothing run before it. Quiet when everything is fresh
 * (a few stat calls); otherwise it says what it builds and how long it has been at it.
 *
 *   node scripts/ensure-build.ts [--quiet]
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const quiet = process.argv.includes("--quiet");
const say = (line: string) => {
  if (!quiet) process.stderr.write(`· ${line}\n`);
};

/** The newest modification time of the files under `dir` whose names end with `ext`. */
function newest(dir: string, ext: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(full, ext));
    else if (entry.name.endsWith(ext)) latest = Math.max(latest, statSync(full).mtimeMs);
  }
  return latest;
}

const mtime = (file: string) => (existsSync(file) ? statSync(file).mtimeMs : 0);

/** Why a build is needed, or undefined when the outputs are newer than every input. */
export function staleReason(): string | undefined {
  const abis = path.join(root, "abis", "index.ts");
  if (!existsSync(abis)) return "the typed ABIs (abis/) are missing";
  if (!existsSync(path.join(root, "artifacts", "contracts")))
    return "the contract artifacts are missing";
  const built = mtime(abis);
  const inputs = Math.max(
    newest(path.join(root, "contracts"), ".sol"),
    mtime(path.join(root, "hardhat.config.ts")),
    mtime(path.join(root, "scripts", "gen-abis.ts")),
  );
  if (inputs > built) return "the contracts changed since the last build";
  return undefined;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${path.basename(cmd)} ${args.join(" ")} failed (${signal ?? code})`)),
    );
  });
}

export async function ensureBuilt(): Promise<void> {
  const reason = staleReason();
  if (!reason) return;
  const started = Date.now();
  say(`${reason}: compiling the contracts (about 2 minutes on 2 cores, once)`);
  const ticker = setInterval(
    () => say(`still compiling (${Math.round((Date.now() - started) / 1000)} s)`),
    20_000,
  );
  try {
    await run(path.join(root, "node_modules", ".bin", "hardhat"), [
      "build",
      "--build-profile",
      "default",
    ]);
  } finally {
    clearInterval(ticker);
  }
  await run(process.execPath, [path.join(root, "scripts", "gen-abis.ts")]);
  say(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

if (import.meta.filename === process.argv[1]) {
  try {
    await ensureBuilt();
  } catch (e) {
    process.stderr.write(`fabstir: the build failed: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
