/**
 * The local chain: Hardhat's node (EDR) on 127.0.0.1 as a child process, and the contracts
 * deployed to it with the same Ignition modules as Base Sepolia and Base (LocalDev adds the
 * test stablecoin). Started from node_modules/.bin directly: an npx wrapper would leave the
 * real process running when killed.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createPublicClient, http } from "viem";
import { hardhat } from "viem/chains";
import { type Proc, startProcess, waitFor } from "./process.ts";

export const ROOT = path.resolve(import.meta.dirname, "..");
export const BIN = path.join(ROOT, "node_modules", ".bin");

export interface HardhatNode {
  url: string;
  proc: Proc;
}

export async function startHardhatNode(
  port: number,
  env: NodeJS.ProcessEnv = {},
): Promise<HardhatNode> {
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess(
    path.join(BIN, "hardhat"),
    ["node", "--hostname", "127.0.0.1", "--port", String(port)],
    // Its own process group: Ctrl-C stops the other parts first, and they settle sessions on it.
    { cwd: ROOT, env, detached: true },
  );
  const client = createPublicClient({ chain: hardhat, transport: http(url, { retryCount: 0 }) });
  await waitFor("the hardhat node", async () => {
    if (proc.child.exitCode !== null) throw new Error(`hardhat node exited:\n${proc.output()}`);
    return (await client.getChainId()) || undefined;
  }).catch(async (e) => {
    await proc.stop();
    throw new Error(`${e}\n${proc.output()}`);
  });
  return { url, proc };
}

/**
 * Deploys ignition/modules/LocalDev.ts to the chain at `url`; returns the deployment folder.
 * `parameters` are the module's (e.g. the demo models' `chatModelSha256`), passed to Ignition in
 * a temporary `--parameters` file.
 */
export async function deployLocalDev(
  url: string,
  deploymentId: string,
  parameters: Record<string, string> = {},
): Promise<string> {
  const args: string[] = [];
  const tmp = await mkdtemp(path.join(os.tmpdir(), "fabstir-ignition-"));
  if (Object.keys(parameters).length > 0) {
    const file = path.join(tmp, "parameters.json");
    await writeFile(file, `${JSON.stringify({ FabstirLocalDev: parameters }, null, 2)}\n`);
    args.push("--parameters", file);
  }
  const deploy = startProcess(
    path.join(BIN, "hardhat"),
    [
      "ignition",
      "deploy",
      "ignition/modules/LocalDev.ts",
      "--network",
      "localhost",
      "--build-profile",
      "default",
      "--deployment-id",
      deploymentId,
      ...args,
    ],
    { cwd: ROOT, env: { FABSTIR_RPC_URL: url } },
  );
  const code = await deploy.exited;
  await rm(tmp, { recursive: true, force: true });
  if (code !== 0) throw new Error(`ignition deploy failed:\n${deploy.output()}`);
  return path.join(ROOT, "ignition", "deployments", deploymentId);
}

/** Every address of an Ignition deployment, by its future id (e.g. "FabstirLocalDev#TestStablecoin"). */
export function deployedAddresses(deploymentDir: string): Record<string, `0x${string}`> {
  const file = path.join(deploymentDir, "deployed_addresses.json");
  if (!existsSync(file)) throw new Error(`no deployment in ${deploymentDir}`);
  return JSON.parse(readFileSync(file, "utf8"));
}
