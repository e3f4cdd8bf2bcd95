/**
 * Runs a host node from a config file until SIGINT or SIGTERM, then stops it cleanly
 * (answers in flight finish, the chain state is saved).
 *
 *   node node/cli/host.ts --config node.json
 *
 * The host key comes from FABSTIR_HOST_PRIVATE_KEY or the config's keystore with
 * FABSTIR_KEYSTORE_PASSWORD; FABSTIR_LOG_LEVEL sets the log level.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadNodeConfig } from "../config.ts";
import { NodeError } from "../errors.ts";
import { startHostNode } from "../host.ts";
import { createLogger } from "../logger.ts";

const { values } = parseArgs({
  options: { config: { type: "string", short: "c", default: "node.json" } },
});
const logger = createLogger();
try {
  const config = await loadNodeConfig(values.config as string);
  const node = await startHostNode(config, { logger });
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
} catch (e) {
  if (e instanceof ConfigError || e instanceof NodeError) {
    console.error(`fabstir host: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
