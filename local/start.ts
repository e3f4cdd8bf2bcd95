/**
 * `npm start`: the whole marketplace on this machine (see local/marketplace.ts), until
 * Ctrl-C. Starting again resumes the previous state; `npm start -- --fresh` starts over.
 *
 *   npm start -- [--fresh] [--data-dir DIR] [--hosts N] [--chain-port 8545] [--api-port 42069]
 *                [--gateway-port 8787] [--host-port 8081]
 */
import { parseArgs } from "node:util";
import { createLogger } from "../protocol/logger.ts";
import { LOCAL_DEFAULTS, startLocalMarketplace } from "./marketplace.ts";

const { values } = parseArgs({
  options: {
    fresh: { type: "boolean", default: false },
    "data-dir": { type: "string" },
    hosts: { type: "string" },
    "chain-port": { type: "string" },
    "api-port": { type: "string" },
    "gateway-port": { type: "string" },
    "host-port": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "usage: npm start -- [--fresh] [--data-dir DIR] [--hosts N] [--chain-port P] [--api-port P] [--gateway-port P] [--host-port P]",
  );
  process.exit(0);
}
const num = (name: string, raw: string | undefined) => {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) {
    console.error(`fabstir start: --${name} expects a whole number, got ${raw}`);
    process.exit(2);
  }
  return Number(raw);
};

const logger = createLogger({
  name: "fabstir-local",
  level: process.env.FABSTIR_LOG_LEVEL ?? "warn",
});
const started = Date.now();
const say = (line: string) => process.stderr.write(`· ${line}\n`);
let market: Awaited<ReturnType<typeof startLocalMarketplace>>;
try {
  market = await startLocalMarketplace({
    fresh: values.fresh,
    dataDir: values["data-dir"],
    hosts: num("hosts", values.hosts),
    chainPort: num("chain-port", values["chain-port"]),
    apiPort: num("api-port", values["api-port"]),
    gatewayPort: num("gateway-port", values["gateway-port"]),
    hostPort: num("host-port", values["host-port"]),
    logger,
    onProgress: say,
  });
} catch (e) {
  console.error(`fabstir start: ${(e as Error).message}`);
  process.exit(1);
}
const f = market.file;
const model = LOCAL_DEFAULTS.chatModel;
console.log(`
Fabstir local marketplace ${market.resumed ? "resumed" : "started"} in ${((Date.now() - started) / 1000).toFixed(1)} s (state in ${market.dataDir})

  chain (JSON-RPC)     ${f.rpcUrl}   chain id ${f.chainId}
  REST discovery API   ${f.apiUrl}/hosts?model=${model}
  GraphQL              ${f.apiUrl}/graphql
  SQL over HTTP        ${f.apiUrl}/sql
  OpenAPI              ${f.apiUrl}/openapi.json
${f.hosts.map((h, i) => `  host ${i + 1}               ${h.httpUrl}/v1   ${h.address}`).join("\n")}
  renter gateway       ${f.gatewayUrl}/v1   pays as ${f.renter.address}, spot-checks ${LOCAL_DEFAULTS.spotCheckRate * 100}% of its answers
  arbiter              ${f.arbiterUrl}   decides output challenges and disputes
  governance           governor ${f.addresses.FabstirGovernor}, timelock ${f.addresses.FabstirTimelock}
                       (dev account 0 holds the FAB votes, 11 is the guardian; a proposal passes in about 13 minutes)
  stakers pool         ${f.addresses.StakersPool}   treasury ${f.addresses.FabstirTreasury} (buybacks on Uniswap V2)

Try:
  npm run renter -- hosts --model ${model}
  npm run renter -- prompt "What is a GPU?" --model ${model}
  curl -s ${f.gatewayUrl}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"model":"${model}","messages":[{"role":"user","content":"hello"}]}'
  npm run host -- status --config ${f.hosts[0]?.config}
  curl -s ${f.gatewayUrl}/v1/fabstir/checks     (the gateway's spot-checks and challenges)
  npm run governance -- list                     (proposals; docs/governance.md for the rest)
  curl -s ${f.apiUrl}/tokenomics/pool

The demo models are generated, so their answers are meaningless text; see docs/host-guide.md
to serve a real GGUF model. Ctrl-C stops everything; npm start resumes, npm start -- --fresh starts over.
`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping (answers in flight finish, the chain is recorded)`);
  await market.stop();
  say("stopped");
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
