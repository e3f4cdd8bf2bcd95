/**
 * The host CLI's commands as functions (the CLI prints their results; tests call them):
 * init writes a new key (encrypted keystore) and a starting config; status reads the host's
 * registry entry, stake, escrow earnings and, if the node runs, its health; withdraw moves
 * earnings from the escrow to the host's wallet; unstake starts unbonding stake, or
 * withdraws stake whose unbonding period is over.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { erc20Abi, formatEther, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { nodeRegistryAbi, paymentEscrowAbi, reputationSystemAbi } from "../../abis/index.ts";
import {
  type ChainClient,
  ContractRevertError,
  createChainClient,
} from "../../protocol/chain-client.ts";
import { loadDeployment } from "../../protocol/deployment.ts";
import { hostStatus as hostStatusLabel } from "../../protocol/hosts.ts";
import { KeyError, loadHostAccount, writeKeystore } from "../../protocol/keystore.ts";
import type { NodeConfig } from "../config.ts";
import { NodeError } from "../errors.ts";

export class HostCommandError extends NodeError {
  override readonly code = "host_command";
}

export interface InitOptions {
  dir: string;
  rpcUrl: string;
  chainId?: number;
  deploymentDir?: string;
  model: string;
  modelPath: string;
  pricePerToken: string;
  password: string;
  force?: boolean;
}

/** A new host: a fresh key in an encrypted keystore, and node.json beside it. */
export async function initHost(o: InitOptions) {
  const config = path.join(o.dir, "node.json");
  const keystore = path.join(o.dir, "key.json");
  if (!o.force && (existsSync(config) || existsSync(keystore)))
    throw new HostCommandError(
      `${o.dir} already holds a node.json or key.json (--force replaces them)`,
    );
  if (o.password.length < 8)
    throw new KeyError(
      "the keystore password (FABSTIR_KEYSTORE_PASSWORD) needs at least 8 characters",
    );
  if (!/^\d+$/.test(o.pricePerToken))
    throw new HostCommandError("--price is a whole number of wei per token");
  await mkdir(o.dir, { recursive: true });
  const key = generatePrivateKey();
  await writeKeystore(keystore, key, o.password);
  const raw = {
    dataDir: "data",
    models: [{ id: o.model, path: path.resolve(o.modelPath), role: "chat" }],
    cache: { enabled: false },
    http: { host: "127.0.0.1", port: 8080 },
    p2p: { listen: ["/ip4/0.0.0.0/tcp/4001"] },
    chain: {
      rpcUrl: o.rpcUrl,
      chainId: o.chainId ?? 31337,
      keystore: "key.json",
      ...(o.deploymentDir ? { deploymentDir: path.resolve(o.deploymentDir) } : {}),
      region: "unknown",
      offers: [{ model: o.model, pricePerToken: o.pricePerToken }],
    },
  };
  await writeFile(config, `${JSON.stringify(raw, null, 2)}\n`);
  return { address: privateKeyToAccount(key).address, config, keystore };
}

/** The host's address: from the key when it can be unlocked, else from the keystore's address field. */
async function hostAddress(config: NodeConfig, env: NodeJS.ProcessEnv): Promise<`0x${string}`> {
  if (env.FABSTIR_HOST_PRIVATE_KEY || env.FABSTIR_KEYSTORE_PASSWORD !== undefined)
    return (await loadHostAccount({ keystore: config.chain?.keystore }, env)).address;
  if (!config.chain?.keystore)
    throw new KeyError("no host key: set FABSTIR_HOST_PRIVATE_KEY or chain.keystore");
  const json = JSON.parse(await readFile(config.chain.keystore, "utf8")) as { address?: string };
  if (!json.address)
    throw new KeyError("the keystore names no address; set FABSTIR_KEYSTORE_PASSWORD");
  return `0x${json.address.replace(/^0x/, "")}` as `0x${string}`;
}

function chainOf(config: NodeConfig, env: NodeJS.ProcessEnv) {
  const c = config.chain;
  if (!c) throw new HostCommandError("the config has no chain section");
  const deployment = loadDeployment(c.chainId, {
    ...env,
    ...(c.deploymentDir ? { FABSTIR_DEPLOYMENT_DIR: c.deploymentDir } : {}),
  });
  return { c, addresses: deployment.addresses };
}

async function signer(config: NodeConfig, env: NodeJS.ProcessEnv): Promise<ChainClient> {
  const { c } = chainOf(config, env);
  const account = await loadHostAccount({ keystore: c.keystore }, env);
  return createChainClient({ rpcUrl: c.rpcUrl, chainId: c.chainId, account });
}

export async function hostStatus(config: NodeConfig, env: NodeJS.ProcessEnv = process.env) {
  const { c, addresses } = chainOf(config, env);
  const address = await hostAddress(config, env);
  const client = createChainClient({
    rpcUrl: c.rpcUrl,
    chainId: c.chainId,
    // Reads only: any account will do for the client.
    account: privateKeyToAccount(generatePrivateKey()),
  });
  const read = client.public;
  const [state, minimumStake, eth, fab, reputation] = await Promise.all([
    read.readContract({
      address: addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "hostState",
      args: [address],
    }),
    read.readContract({
      address: addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "minimumStake",
    }),
    read.getBalance({ address }),
    read.readContract({
      address: addresses.FABToken,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [address],
    }),
    // The on-chain record renters filter and sort by (docs/trust.md).
    read.readContract({
      address: addresses.ReputationSystem,
      abi: reputationSystemAbi,
      functionName: "reputationOf",
      args: [address],
    }),
  ]);
  const tokens = [
    ...new Set([zeroAddress, ...c.offers.map((o) => (o.token === "ETH" ? zeroAddress : o.token))]),
  ];
  const earnings = await Promise.all(
    tokens.map(async (token) => ({
      token,
      amount: await read.readContract({
        address: addresses.PaymentEscrow,
        abi: paymentEscrowAbi,
        functionName: "balanceOf",
        args: [address, token as `0x${string}`],
      }),
    })),
  );
  const [status, stake, registeredAt, unbonding, releaseAt] = state;
  let node: unknown = null;
  if (config.http.enabled) {
    const url = config.http.publicUrl ?? `http://${config.http.host}:${config.http.port}`;
    node = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null);
  }
  return {
    address,
    status: hostStatusLabel(status),
    stake,
    minimumStake,
    registeredAt,
    unbonding: { amount: unbonding, releaseAt },
    wallet: { eth, fab },
    earnings,
    reputation,
    node,
  };
}

export async function withdrawEarnings(
  config: NodeConfig,
  opts: { token?: string },
  env: NodeJS.ProcessEnv = process.env,
) {
  const { addresses } = chainOf(config, env);
  const client = await signer(config, env);
  const token = (
    !opts.token || opts.token.toUpperCase() === "ETH" ? zeroAddress : opts.token
  ) as `0x${string}`;
  const amount = await client.public.readContract({
    address: addresses.PaymentEscrow,
    abi: paymentEscrowAbi,
    functionName: "balanceOf",
    args: [client.account.address, token],
  });
  if (amount === 0n)
    throw new HostCommandError(`nothing to withdraw in ${token === zeroAddress ? "ETH" : token}`);
  const receipt = await client.send("withdraw", {
    address: addresses.PaymentEscrow,
    abi: paymentEscrowAbi,
    functionName: "withdraw",
    args: [token, amount, client.account.address],
  });
  return {
    token,
    amount,
    tx: receipt.transactionHash,
    display: token === zeroAddress ? `${formatEther(amount)} ETH` : `${amount}`,
  };
}

/** Starts unbonding `amount` (default all) of the stake; with `complete`, withdraws stake whose unbonding is over. */
export async function unstake(
  config: NodeConfig,
  opts: { amount?: bigint; complete?: boolean },
  env: NodeJS.ProcessEnv = process.env,
) {
  const { addresses } = chainOf(config, env);
  const client = await signer(config, env);
  if (opts.complete) {
    const receipt = await client.send("withdrawUnstaked", {
      address: addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "withdrawUnstaked",
    });
    return { action: "withdrawn" as const, tx: receipt.transactionHash };
  }
  const [, stake] = await client.public.readContract({
    address: addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "hostState",
    args: [client.account.address],
  });
  const amount = opts.amount ?? stake;
  if (amount === 0n) throw new HostCommandError("there is no stake to unstake");
  const receipt = await client
    .send("requestUnstake", {
      address: addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "requestUnstake",
      args: [amount],
    })
    .catch((e: unknown) => {
      if (e instanceof ContractRevertError && e.errorName === "NodeRegistryUnfinishedJobs")
        throw new HostCommandError(
          `the host has ${e.args[1]} unfinished job(s) (claimed, completed or disputed): stake cannot drop below the minimum until they settle`,
          { cause: e },
        );
      throw e;
    });
  const [, , , unbonding, releaseAt] = await client.public.readContract({
    address: addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "hostState",
    args: [client.account.address],
  });
  return {
    action: "requested" as const,
    amount,
    unbonding,
    releaseAt,
    tx: receipt.transactionHash,
  };
}
