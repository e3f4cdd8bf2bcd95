/**
 * Follows JobMarketplace's events from a checkpoint: each round fetches the logs of the
 * blocks after the checkpoint (up to `confirmations` behind the head, at most `maxRange`
 * blocks at once), hands them to the handler in chain order, and only then moves the
 * checkpoint, so nothing is skipped and a crash replays at most one range. New blocks are
 * noticed by a subscription when a WebSocket URL is given (eth_subscribe newHeads) and by
 * polling otherwise; polling also runs under a subscription, more slowly, as its fallback.
 * An RPC outage only delays rounds: the loop backs off and catches up when the RPC returns.
 */
import { createPublicClient, type Log, webSocket } from "viem";
import { jobMarketplaceAbi } from "../../abis/index.ts";
import type { ChainClient } from "../../protocol/chain-client.ts";
import { type Logger, silentLogger } from "../../protocol/logger.ts";

export type MarketplaceLog = Log<bigint, number, false, undefined, true, typeof jobMarketplaceAbi>;

export interface MonitorOptions {
  client: ChainClient;
  marketplace: `0x${string}`;
  /** Last block already handled. */
  checkpoint: () => number;
  /** Handles one range's logs in chain order; the checkpoint moves to `toBlock` after it. */
  onLogs: (logs: MarketplaceLog[], toBlock: number) => Promise<void>;
  /** Called after each round, whether or not there were new blocks (sync work hooks here). */
  onRound?: () => Promise<void>;
  pollIntervalMs?: number;
  confirmations?: number;
  maxRange?: number;
  wsUrl?: string;
  logger?: Logger;
}

export interface JobMonitor {
  start: () => void;
  /** Runs one round now (tests, and the subscription's wake-up). */
  poke: () => void;
  /** Resolves once the checkpoint reaches `block`. */
  caughtUp: (block: number) => Promise<void>;
  readonly subscribed: boolean;
  readonly lastError: string | undefined;
  stop: () => Promise<void>;
}

export function createJobMonitor(options: MonitorOptions): JobMonitor {
  const log = (options.logger ?? silentLogger).child({ component: "job-monitor" });
  const pollMs = options.pollIntervalMs ?? 1_000;
  const confirmations = options.confirmations ?? 0;
  const maxRange = options.maxRange ?? 2_000;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let failures = 0;
  let subscribed = false;
  let lastError: string | undefined;
  let unwatch: (() => void) | undefined;
  const waiters: { block: number; resolve: () => void }[] = [];

  async function round() {
    const head = Number(await options.client.public.getBlockNumber({ cacheTime: 0 }));
    const target = head - confirmations;
    while (options.checkpoint() < target && !stopped) {
      const fromBlock = options.checkpoint() + 1;
      const toBlock = Math.min(target, fromBlock + maxRange - 1);
      const logs = (await options.client.public.getContractEvents({
        address: options.marketplace,
        abi: jobMarketplaceAbi,
        fromBlock: BigInt(fromBlock),
        toBlock: BigInt(toBlock),
        strict: true,
      })) as MarketplaceLog[];
      logs.sort((a, b) => Number(a.blockNumber - b.blockNumber) || a.logIndex - b.logIndex);
      await options.onLogs(logs, toBlock);
      for (const w of waiters.filter((w) => w.block <= toBlock)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    await options.onRound?.();
  }

  function schedule(ms: number) {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(run, ms);
  }

  function run() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = round()
      .then(() => {
        if (failures > 0) log.info({ failures }, "chain reachable again; caught up");
        failures = 0;
        lastError = undefined;
      })
      .catch((e) => {
        failures++;
        lastError = (e as Error).message?.split("\n")[0];
        log.warn({ err: lastError, failures }, "job monitor round failed; will retry");
      })
      .finally(() => {
        running = undefined;
        const backoff = failures > 0 ? Math.min(pollMs * 2 ** Math.min(failures, 5), 15_000) : 0;
        if (again && failures === 0) {
          again = false;
          schedule(0);
        } else schedule(backoff || (subscribed ? pollMs * 5 : pollMs));
      });
  }

  return {
    start() {
      if (options.wsUrl) {
        const ws = createPublicClient({
          chain: options.client.chain,
          transport: webSocket(options.wsUrl),
        });
        unwatch = ws.watchBlockNumber({
          onBlockNumber: () => {
            subscribed = true;
            run();
          },
          onError: (e) => {
            subscribed = false;
            log.warn({ err: e.message.split("\n")[0] }, "block subscription failed; polling");
          },
        });
      }
      run();
    },
    poke: run,
    caughtUp: (block) =>
      options.checkpoint() >= block
        ? Promise.resolve()
        : new Promise((resolve) => {
            waiters.push({ block, resolve });
            run();
          }),
    get subscribed() {
      return subscribed;
    },
    get lastError() {
      return lastError;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      unwatch?.();
      await running;
    },
  };
}
