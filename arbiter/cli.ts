/**
 * `npm run arbiter`: runs the arbiter service (arbiter/service.ts) with a key that holds
 * ARBITER_ROLE on the ProofSystem and the JobMarketplace. `npm start` runs one already; this is
 * for a deployment's own arbiter.
 *
 *   npm run arbiter -- --rpc URL --api URL [--chain-id 84532] [--port 8790] [--bind 127.0.0.1]
 *                      [--data-dir .fabstir/arbiter] [--verdicts 3]
 *
 * The key: FABSTIR_ARBITER_PRIVATE_KEY, or FABSTIR_ARBITER_KEYSTORE unlocked with
 * FABSTIR_KEYSTORE_PASSWORD. Addresses come from the deployment (FABSTIR_DEPLOYMENT_DIR or
 * ignition/deployments/chain-<id>, or the FABSTIR_*_ADDRESS variables).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { privateKeyToAccount } from "viem/accounts";
import { createChainClient } from "../protocol/chain-client.ts";
import { loadDeployment } from "../protocol/deployment.ts";
import { startHttpServer } from "../protocol/http-server.ts";
import { decryptKeystore } from "../protocol/keystore.ts";
import { createLogger } from "../protocol/logger.ts";
import { createArbiter, discoveryVerifiers } from "./service.ts";

const USAGE = `usage: npm run arbiter -- --rpc URL --api URL [--chain-id N] [--port 8790] [--bind 127.0.0.1]
                           [--data-dir DIR] [--verdicts N]
key: FABSTIR_ARBITER_PRIVATE_KEY, or FABSTIR_ARBITER_KEYSTORE with FABSTIR_KEYSTORE_PASSWORD`;

function fail(message: string): never {
  console.error(`fabstir arbiter: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    rpc: { type: "string" },
    api: { type: "string" },
    "chain-id": { type: "string" },
    port: { type: "string" },
    bind: { type: "string" },
    "data-dir": { type: "string" },
    verdicts: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const whole = (name: string, raw: string | undefined, fallback: number) => {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) fail(`--${name} expects a whole number, got ${raw}`);
  return Number(raw);
};
const rpcUrl = values.rpc ?? process.env.FABSTIR_RPC_URL;
const apiUrl = values.api ?? process.env.FABSTIR_API_URL;
if (!rpcUrl || !apiUrl) fail(`--rpc and --api are required\n${USAGE}`);
const chainId = whole("chain-id", values["chain-id"] ?? process.env.FABSTIR_CHAIN_ID, 31337);
let key = process.env.FABSTIR_ARBITER_PRIVATE_KEY;
if (!key && process.env.FABSTIR_ARBITER_KEYSTORE) {
  const password = process.env.FABSTIR_KEYSTORE_PASSWORD;
  if (!password) fail("FABSTIR_KEYSTORE_PASSWORD unlocks FABSTIR_ARBITER_KEYSTORE");
  key = decryptKeystore(readFileSync(process.env.FABSTIR_ARBITER_KEYSTORE, "utf8"), password);
}
if (!key || !/^0x[0-9a-fA-F]{64}$/.test(key))
  fail("no key: set FABSTIR_ARBITER_PRIVATE_KEY (0x + 64 hex digits) or FABSTIR_ARBITER_KEYSTORE");

const logger = createLogger({
  name: "fabstir-arbiter",
  level: process.env.FABSTIR_LOG_LEVEL ?? "info",
});
const addresses = loadDeployment(chainId).addresses;
const arbiter = await createArbiter({
  chain: createChainClient({
    rpcUrl,
    chainId,
    account: privateKeyToAccount(key as `0x${string}`),
    logger,
  }),
  chainId,
  addresses,
  verifiers: discoveryVerifiers(apiUrl),
  dataDir: path.resolve(values["data-dir"] ?? path.join(".fabstir", "arbiter")),
  verdicts: whole("verdicts", values.verdicts, 3),
  logger,
});
const server = await startHttpServer(arbiter.app, {
  host: values.bind ?? "127.0.0.1",
  port: whole("port", values.port, 8790),
});
console.log(
  `arbiter ${privateKeyToAccount(key as `0x${string}`).address} on ${server.url} (Ctrl-C stops it)`,
);
const stop = () =>
  void arbiter
    .stop()
    .then(() => server.close())
    .then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
