/**
 * The host node's chain side, assembled: the client (key, retries, nonces), the state
 * file, the registration brought up to date, the job manager (which is also the gate the
 * request handler asks) and the monitor that feeds it. Start order matters: a job left
 * half-served by a killed process is put back first, then registration, then the monitor
 * catches up from the checkpoint, and the periodic sync resumes or gives up the jobs this
 * host claimed earlier, and every open session (kept in its own synced file) is checkpointed or
 * closed as its policy says. With proofs on, the same rounds read the ProofSystem's count
 * challenges and start the output-count proofs that are due (node/chain/proofs.ts).
 */
import type { PrivateKeyAccount } from "viem";
import {
  type ChainClient,
  createChainClient,
  type RetryPolicy,
} from "../../protocol/chain-client.ts";
import { type Logger, silentLogger } from "../../protocol/logger.ts";
import type { NodeMetrics } from "../metrics.ts";
import { createJobManager, type JobManager, type JobPolicy, recoverInterrupted } from "./jobs.ts";
import { createJobMonitor, type JobMonitor } from "./monitor.ts";
import { openProofStore } from "./proof-store.ts";
import { createProofService, type ProofPolicy, type ProofService } from "./proofs.ts";
import { type DesiredRegistration, ensureRegistration } from "./registration.ts";
import { openSessionStore } from "./session-store.ts";
import { createHostSessions, type HostSessions, type SessionPolicy } from "./sessions.ts";
import { type ChainStateStore, openChainState } from "./state.ts";

export interface HostChainOptions {
  rpcUrl: string;
  /** eth_subscribe for new blocks; polling is the fallback. */
  wsUrl?: string;
  chainId: number;
  account: PrivateKeyAccount;
  addresses: {
    NodeRegistry: `0x${string}`;
    JobMarketplace: `0x${string}`;
    PaymentEscrow: `0x${string}`;
    SessionManager: `0x${string}`;
    /** Optional: without it minimum scores are not checked before claiming (claims may revert). */
    ReputationSystem?: `0x${string}`;
    /** Where output-count proofs go; needed for `proofs`. */
    ProofSystem?: `0x${string}`;
  };
  /** First block to follow when there is no checkpoint yet (the deployment block). */
  startBlock: number;
  stateFile: string;
  /** Where the session receipts are kept (synced to disk before each answer). */
  sessionFile: string;
  sessionPolicy?: Partial<SessionPolicy>;
  /**
   * Output-count proofs of the jobs and sessions served, and answers to count challenges
   * (node/chain/proofs.ts), kept in `file`. Off when absent (or without a ProofSystem address).
   */
  proofs?: { file: string; policy?: Partial<ProofPolicy> };
  /** What to register; without it the host must already be registered by other means. */
  registration?: DesiredRegistration;
  policy?: Partial<JobPolicy>;
  pollIntervalMs?: number;
  confirmations?: number;
  retry?: Partial<RetryPolicy>;
  metrics?: NodeMetrics;
  logger?: Logger;
  now?: () => Promise<number>;
}

export interface HostChain {
  readonly client: ChainClient;
  readonly jobs: JobManager;
  readonly sessions: HostSessions;
  /** Present when proofs are on. */
  readonly proofs: ProofService | undefined;
  readonly monitor: JobMonitor;
  readonly state: ChainStateStore;
  /** Transactions the registration sent at start (empty when it was up to date). */
  readonly registrationActions: string[];
  stop: () => Promise<void>;
}

export async function startHostChain(o: HostChainOptions): Promise<HostChain> {
  const logger = o.logger ?? silentLogger;
  const client = createChainClient({
    rpcUrl: o.rpcUrl,
    chainId: o.chainId,
    account: o.account,
    logger,
    retry: o.retry,
    pollingIntervalMs: Math.min(o.pollIntervalMs ?? 1_000, 500),
  });
  const state = await openChainState(o.stateFile, {
    chainId: o.chainId,
    marketplace: o.addresses.JobMarketplace,
    host: o.account.address,
    startBlock: o.startBlock,
  });
  const interrupted = recoverInterrupted(state);
  if (interrupted > 0)
    logger.info({ jobs: interrupted }, "jobs interrupted mid-answer are open again");
  await state.save();
  const registrationActions = o.registration
    ? await ensureRegistration(client, o.addresses.NodeRegistry, o.registration, logger)
    : [];
  const prices = new Map<`0x${string}`, Map<string, bigint>>();
  for (const offer of o.registration?.offers ?? []) {
    const id = offer.modelId.toLowerCase() as `0x${string}`;
    const byToken = prices.get(id) ?? new Map<string, bigint>();
    byToken.set(offer.token.toLowerCase(), offer.pricePerToken);
    prices.set(id, byToken);
  }
  const proofs =
    o.proofs && o.addresses.ProofSystem
      ? createProofService({
          client,
          proofSystem: o.addresses.ProofSystem,
          marketplace: o.addresses.JobMarketplace,
          sessions: o.addresses.SessionManager,
          store: await openProofStore(o.proofs.file, {
            chainId: o.chainId,
            proofSystem: o.addresses.ProofSystem,
            host: o.account.address,
            startBlock: o.startBlock,
          }),
          policy: o.proofs.policy,
          confirmations: o.confirmations,
          logger,
          now: o.now,
        })
      : undefined;
  const jobs = createJobManager({
    client,
    chainId: o.chainId,
    marketplace: o.addresses.JobMarketplace,
    escrow: o.addresses.PaymentEscrow,
    reputation: o.addresses.ReputationSystem,
    state,
    prices,
    policy: o.policy,
    metrics: o.metrics,
    logger,
    now: o.now,
    proofs,
  });
  const sessionStore = await openSessionStore(o.sessionFile, {
    chainId: o.chainId,
    sessions: o.addresses.SessionManager,
    host: o.account.address,
  });
  const sessions = createHostSessions({
    client,
    chainId: o.chainId,
    sessions: o.addresses.SessionManager,
    store: sessionStore,
    policy: o.sessionPolicy,
    logger,
    now: o.now,
    proofs,
  });
  const syncEvery = o.pollIntervalMs ?? 1_000;
  let lastSync = 0;
  const monitor = createJobMonitor({
    client,
    marketplace: o.addresses.JobMarketplace,
    checkpoint: () => state.data.checkpoint,
    onLogs: jobs.handleLogs,
    onRound: async () => {
      if (Date.now() - lastSync < syncEvery) return;
      lastSync = Date.now();
      await jobs.sync();
      await sessions.sync();
      await proofs?.sync();
    },
    pollIntervalMs: o.pollIntervalMs,
    confirmations: o.confirmations,
    wsUrl: o.wsUrl,
    logger,
  });
  monitor.start();
  return {
    client,
    jobs,
    sessions,
    proofs,
    monitor,
    state,
    registrationActions,
    async stop() {
      await monitor.stop();
      await jobs.idle();
      await sessions.idle();
      await proofs?.stop();
      await state.save();
    },
  };
}
