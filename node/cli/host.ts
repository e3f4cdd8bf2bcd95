/**
 * The host's command line.
 *
 *   npm run host -- init --dir my-host --rpc URL --model NAME --model-path FILE.gguf --price WEI
 *   npm run host -- start --config my-host/node.json
 *   npm run host -- status --config my-host/node.json
 *   npm run host -- withdraw --config my-host/node.json [--token ETH|0x..]
 *   npm run host -- unstake --config my-host/node.json [--amount WEI] [--complete]
 *
 * The key comes from FABSTIR_HOST_PRIVATE_KEY or the config's keystore with
 * FABSTIR_KEYSTORE_PASSWORD (init creates both the key and the keystore). Every command
 * takes --json; FABSTIR_LOG_LEVEL sets the node's log level. `start` runs until SIGINT or
 * SIGTERM, then stops cleanly (answers in flight finish, the chain state is saved).
 */
import { parseArgs } from "node:util";
import { formatEther } from "viem";
import { createOutput } from "../../protocol/cli-output.ts";
import { createLogger } from "../../protocol/logger.ts";
import { loadNodeConfig } from "../config.ts";
import { startHostNode } from "../host.ts";
import {
  HostCommandError,
  hostStatus,
  initHost,
  unstake,
  withdrawEarnings,
} from "./host-commands.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    config: { type: "string", short: "c", default: "node.json" },
    json: { type: "boolean", default: false },
    dir: { type: "string" },
    rpc: { type: "string" },
    "chain-id": { type: "string" },
    "deployment-dir": { type: "string" },
    model: { type: "string" },
    "model-path": { type: "string" },
    price: { type: "string" },
    force: { type: "boolean", default: false },
    token: { type: "string" },
    amount: { type: "string" },
    complete: { type: "boolean", default: false },
  },
});
const out = createOutput(values.json === true, "fabstir host");
const command = positionals[0] ?? "start";
const need = (name: string, v: string | undefined) => {
  if (!v) throw new HostCommandError(`${command} needs --${name}`);
  return v;
};

try {
  switch (command) {
    case "init": {
      const r = await initHost({
        dir: need("dir", values.dir),
        rpcUrl: need("rpc", values.rpc),
        chainId: values["chain-id"] ? Number(values["chain-id"]) : undefined,
        deploymentDir: values["deployment-dir"],
        model: need("model", values.model),
        modelPath: need("model-path", values["model-path"]),
        pricePerToken: need("price", values.price),
        password: process.env.FABSTIR_KEYSTORE_PASSWORD ?? "",
        force: values.force,
      });
      out.result(r, () =>
        [
          `host ${r.address}`,
          `keystore ${r.keystore} (encrypted with FABSTIR_KEYSTORE_PASSWORD)`,
          `config ${r.config}: review it, fund ${r.address} with ETH for gas and FAB for the stake, then`,
          `  npm run host -- start --config ${r.config}`,
        ].join("\n"),
      );
      break;
    }
    case "start": {
      const logger = createLogger({ name: "fabstir-node", level: process.env.FABSTIR_LOG_LEVEL });
      const config = await loadNodeConfig(values.config as string);
      const node = await startHostNode(config, { logger });
      out.result(
        {
          address: node.address,
          http: node.http?.url ?? null,
          peerId: node.p2p?.peerId.toString() ?? null,
        },
        () =>
          `host node ${node.address ?? ""} serving ${node.http?.url ?? "(no HTTP)"} (Ctrl-C stops it)`,
      );
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "stopping");
        await node.stop();
        process.exit(0);
      };
      process.on("SIGINT", () => void stop("SIGINT"));
      process.on("SIGTERM", () => void stop("SIGTERM"));
      break;
    }
    case "status": {
      const s = await hostStatus(await loadNodeConfig(values.config as string));
      out.result(s, () =>
        [
          `host ${s.address}: ${s.status}`,
          `stake ${formatEther(s.stake)} FAB (minimum ${formatEther(s.minimumStake)}), unbonding ${formatEther(s.unbonding.amount)}`,
          `wallet ${formatEther(s.wallet.eth)} ETH, ${formatEther(s.wallet.fab)} FAB`,
          ...s.earnings.map((e) => `earnings in escrow (${e.token}): ${e.amount}`),
          `reputation: score ${s.reputation.score}/1000; ${s.reputation.jobs} jobs and ${s.reputation.sessions} sessions delivered, ${s.reputation.tokens} tokens; ${s.reputation.abandoned} abandoned claims, ${s.reputation.disputesLost} disputes lost (${s.reputation.disputesWon} won), ${s.reputation.challengesLost} challenges lost; rating ${s.reputation.ratingWeight > 0n ? `${(Number(s.reputation.ratingAverage) / 250 + 1).toFixed(1)}/5` : "none yet"}`,
          s.node ? "node: running" : "node: not reachable",
        ].join("\n"),
      );
      break;
    }
    case "withdraw": {
      const r = await withdrawEarnings(await loadNodeConfig(values.config as string), {
        token: values.token,
      });
      out.result(r, () => `withdrew ${r.display} in ${r.tx}`);
      break;
    }
    case "unstake": {
      if (values.amount !== undefined && !/^\d+$/.test(values.amount))
        throw new HostCommandError("--amount is a whole number of FAB base units");
      const r = await unstake(await loadNodeConfig(values.config as string), {
        amount: values.amount === undefined ? undefined : BigInt(values.amount),
        complete: values.complete,
      });
      out.result(r, () =>
        r.action === "withdrawn"
          ? `withdrew the unbonded stake in ${r.tx}`
          : `unbonding ${formatEther(r.unbonding)} FAB until ${new Date(Number(r.releaseAt) * 1000).toISOString()}; then: npm run host -- unstake --complete`,
      );
      break;
    }
    default:
      throw new HostCommandError(
        `unknown command ${command}: init, start, status, withdraw or unstake`,
      );
  }
} catch (e) {
  out.fail(e);
}
