/**
 * A generated history with every event type (fixtures/history.ts), indexed on Postgres
 * by `ponder start` that is SIGKILLed in the middle of its backfill and started again. The
 * result is compared with the chain itself, read independently of the indexer's code:
 * every log appears exactly once in event_log, every job, session and host matches the
 * contracts' state, every escrow movement belongs to its locker's job, dispute bond or session,
 * the derived counters equal sums over the decoded logs (a replayed batch would double them),
 * every host's reputation record matches the ReputationSystem's, discovery returns exactly the
 * eligible hosts in the order of their on-chain scores, and the views schema serves the same
 * data to plain SQL.
 */
import assert from "node:assert/strict";
import pg from "pg";
import {
  type Address,
  createPublicClient,
  decodeEventLog,
  http,
  type Log,
  zeroAddress,
} from "viem";
import { hardhat } from "viem/chains";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  fabstirGovernorAbi,
  fabstirTimelockAbi,
  fabstirTreasuryAbi,
  fabTokenAbi,
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
  proofSystemAbi,
  reputationSystemAbi,
  sessionManagerAbi,
  stakersPoolAbi,
} from "../../abis/index.ts";
import { generateHistory, type History } from "../../fixtures/history.ts";
import {
  freshPostgres,
  getJson,
  type Indexer,
  type LocalChain,
  startIndexer,
  startLocalChain,
  waitFor,
} from "../../fixtures/local-chain.ts";
import { type RpcProxy, startRpcProxy } from "../../fixtures/rpc-proxy.ts";

const SCHEMA = "fabstir";
const VIEWS = "fabstir_views";
// The contracts' enum names, written out here rather than imported from the indexer, so a
// wrong mapping there fails this test instead of agreeing with it.
const JOB_STATUS = [
  "None",
  "Posted",
  "Claimed",
  "Completed",
  "Disputed",
  "Settled",
  "Cancelled",
  "Expired",
  "Refused",
];
const HOST_STATUS = ["Unregistered", "Active", "Paused"];
const SESSION_STATUS = ["None", "Open", "Closing", "Settled"];
const CLOSE_REASON = ["Host", "Renter", "Expired"];
const SETTLEMENT = ["Accepted", "AutoReleased", "Resolved", "Unarbitrated"];
const OFFENCE = ["AbandonedClaim", "DisputeLost", "ChallengeLost"];
/** Escrow ids of dispute bonds have the top bit set (the rest is the job's id). */
const BOND_BIT = 1n << 255n;
/** Events the contracts declare (mostly inherited from OpenZeppelin) that no public function can emit after deployment. */
const NEVER_EMITTED = new Set(["EIP712DomainChanged", "RoleAdminChanged"]);

/** The block number inside a Ponder checkpoint string (10 digits of timestamp, 16 of chain id, 16 of block). */
const blockOfCheckpoint = (cp: string): number => Number(cp.slice(26, 42) || Number.NaN);

interface Decoded {
  id: string;
  address: Address;
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: decoded args of any event
  args: any;
}

describe("indexer backfill on Postgres, killed and restarted", { timeout: 600_000 }, () => {
  let chain: LocalChain;
  let history: History;
  let indexer: Indexer | undefined;
  let db: { url: string; drop: () => Promise<void> } | undefined;
  let sql: pg.Client | undefined;
  let logs: Decoded[] = [];
  let proxy: RpcProxy | undefined;
  let killedAt = -1;
  let checkpointBlock = -1;
  let killedBeforeReady = false;
  let restartLog = "";

  const count = async (query: string): Promise<number> =>
    Number((await (sql as pg.Client).query(query)).rows[0]?.n ?? Number.NaN);
  const of = (name: string) => logs.filter((l) => l.name === name);
  const isMarketLock = (l: Decoded) =>
    l.args.locker.toLowerCase() === chain.addresses.JobMarketplace.toLowerCase();
  /** Whether an escrow event moved a job's lock (else a dispute bond's or a session's). */
  const isJobLock = (l: Decoded) => isMarketLock(l) && l.args.id < BOND_BIT;
  const isBondLock = (l: Decoded) => isMarketLock(l) && l.args.id >= BOND_BIT;

  beforeAll(async () => {
    chain = await startLocalChain();
    history = await generateHistory(chain, {
      hosts: 24,
      jobs: 1_500,
      underStaked: 2,
      deregistered: 2,
    });
    const abis = {
      [chain.addresses.FABToken.toLowerCase()]: fabTokenAbi,
      [chain.addresses.NodeRegistry.toLowerCase()]: nodeRegistryAbi,
      [chain.addresses.JobMarketplace.toLowerCase()]: jobMarketplaceAbi,
      [chain.addresses.PaymentEscrow.toLowerCase()]: paymentEscrowAbi,
      [chain.addresses.SessionManager.toLowerCase()]: sessionManagerAbi,
      [chain.addresses.ReputationSystem.toLowerCase()]: reputationSystemAbi,
      // Its deployment's events only (proofs and challenges: api/routes/challenges.test.ts).
      [chain.addresses.ProofSystem.toLowerCase()]: proofSystemAbi,
      [chain.addresses.StakersPool.toLowerCase()]: stakersPoolAbi,
      [chain.addresses.FabstirTreasury.toLowerCase()]: fabstirTreasuryAbi,
      [chain.addresses.FabstirGovernor.toLowerCase()]: fabstirGovernorAbi,
      [chain.addresses.FabstirTimelock.toLowerCase()]: fabstirTimelockAbi,
    };
    // In ranges of blocks: the whole history in one answer exceeds viem's 10 MB response limit.
    const head = await chain.publicClient.getBlockNumber();
    const ranges: [bigint, bigint][] = [];
    for (let from = 0n; from <= head; from += 10n) ranges.push([from, from + 9n]);
    const raw: Log[] = (
      await Promise.all(
        ranges.map(([fromBlock, toBlock]) =>
          chain.publicClient.getLogs({
            address: Object.values(chain.addresses),
            fromBlock,
            toBlock,
          }),
        ),
      )
    ).flat();
    logs = raw.map((l) => {
      const abi = abis[l.address.toLowerCase()];
      if (!abi) throw new Error(`log of unknown contract ${l.address}`);
      const d = decodeEventLog({ abi, data: l.data, topics: l.topics });
      const id = `${String(l.blockNumber).padStart(12, "0")}-${String(l.logIndex).padStart(6, "0")}`;
      return { id, address: l.address, name: d.eventName, args: d.args };
    });

    db = await freshPostgres();
    sql = new pg.Client(db.url);
    await sql.connect();
    // First run: read the chain through a slow proxy, and as soon as part (not all) of the
    // backfill is committed, stall the proxy so the backfill cannot finish, then SIGKILL.
    // Without the stall the race between "rows appeared" and the kill could let a fast
    // machine commit the whole backfill first (the kill must land in the middle).
    proxy = await startRpcProxy(chain.url, { delayMs: 5 });
    const first = await startIndexer(chain, {
      databaseUrl: db.url,
      schema: SCHEMA,
      rpcUrl: proxy.url,
    });
    await waitFor(
      "a partly committed backfill",
      async () =>
        (await count(`select count(*) as n from ${SCHEMA}.event_log`).catch(() => 0)) > 0
          ? true
          : undefined,
      120_000,
      20,
    );
    proxy.hold();
    killedBeforeReady = !(await first.ready());
    await first.stop("SIGKILL");
    await proxy.stop();
    killedAt = await count(`select count(*) as n from ${SCHEMA}.event_log`);
    const cp = await (sql as pg.Client).query(
      `select safe_checkpoint from ${SCHEMA}._ponder_checkpoint`,
    );
    checkpointBlock = blockOfCheckpoint(String(cp.rows[0]?.safe_checkpoint ?? ""));
    // Second run on the same database and schema, now also publishing the views schema.
    indexer = await startIndexer(chain, {
      databaseUrl: db.url,
      schema: SCHEMA,
      viewsSchema: VIEWS,
    });
    const ix = indexer;
    await waitFor(
      "the restarted indexer to reach the chain head",
      async () =>
        (await ix.ready()) &&
        (await count(`select count(*) as n from ${SCHEMA}.event_log`)) === logs.length
          ? true
          : undefined,
      180_000,
    ).catch((e) => {
      throw new Error(`${e}\n${ix.output()}`);
    });
    restartLog = ix.output();
  });

  afterAll(async () => {
    await indexer?.stop();
    await proxy?.stop();
    await sql?.end();
    await chain?.stop();
    await db?.drop();
  });

  it("was killed in the middle of the backfill", async (ctx) => {
    assert.ok(logs.length >= 9_000, `history has ${logs.length} events`);
    // What the killed process left committed: part of the events, not none and not all.
    assert.ok(killedAt > 0 && killedAt < logs.length, `killed at ${killedAt}/${logs.length}`);
    assert.ok(killedBeforeReady, "the first run had not finished its backfill");
    assert.ok(checkpointBlock > 1, `committed checkpoint at block ${checkpointBlock}`);
    // Ponder resumed from that checkpoint instead of starting over.
    assert.match(restartLog, /Detected crash recovery/);
    const resumedFrom = /Started backfill indexing chain=fabstir block_range=\[(\d+),/.exec(
      restartLog,
    );
    assert.ok(resumedFrom, `no backfill after the restart:\n${restartLog}`);
    const from = Number(resumedFrom[1]);
    assert.ok(
      from >= checkpointBlock && from <= checkpointBlock + 1,
      `resumed at block ${from}, checkpoint at ${checkpointBlock}`,
    );
    await ctx.annotate(
      `killed with ${killedAt}/${logs.length} events committed; resumed at block ${from}`,
    );
  });

  it("logs every chain event exactly once, and every event type is covered", async () => {
    const rows = (
      await (sql as pg.Client).query(
        `select id, contract, name from ${SCHEMA}.event_log order by id`,
      )
    ).rows as { id: string; name: string }[];
    assert.equal(rows.length, logs.length);
    const expected = [...logs].sort((a, b) => a.id.localeCompare(b.id));
    rows.forEach((r, i) => {
      assert.equal(r.id, expected[i]?.id);
      assert.equal(r.name, expected[i]?.name, r.id);
    });
    const declared = new Set(
      [
        fabTokenAbi,
        nodeRegistryAbi,
        jobMarketplaceAbi,
        paymentEscrowAbi,
        sessionManagerAbi,
        reputationSystemAbi,
      ].flatMap((abi) => abi.filter((x) => x.type === "event").map((x) => x.name)),
    );
    const emitted = new Set(rows.map((r) => r.name));
    const missing = [...declared].filter((n) => !emitted.has(n) && !NEVER_EMITTED.has(n));
    assert.deepEqual(missing, [], "event types the history never produced");
  });

  it("matches every job's on-chain state, with one status change per status event", async () => {
    const reader = createPublicClient({
      chain: hardhat,
      transport: http(chain.url, { batch: { batchSize: 500 } }),
    });
    const ids = Array.from({ length: history.jobs }, (_, i) => BigInt(i + 1));
    const onChain = await Promise.all(
      ids.map((id) =>
        reader.readContract({
          address: chain.addresses.JobMarketplace,
          abi: jobMarketplaceAbi,
          functionName: "getJob",
          args: [id],
        }),
      ),
    );
    const rows = (
      await (sql as pg.Client).query(
        `select id, status, host, tokens_used from ${SCHEMA}.job order by id`,
      )
    ).rows as { id: string; status: string; host: string | null; tokens_used: number | null }[];
    assert.equal(rows.length, history.jobs);
    rows.forEach((r, i) => {
      const [j] = onChain[i] as (typeof onChain)[number];
      assert.equal(r.status, JOB_STATUS[j.status], `job ${r.id}`);
      if (j.host !== zeroAddress && r.host)
        assert.equal(r.host, j.host.toLowerCase(), `job ${r.id}`);
      if (j.status === 5) assert.equal(r.tokens_used, j.tokensUsed, `job ${r.id}`);
    });
    const statusEvents = [
      "JobPosted",
      "JobClaimed",
      "JobCompleted",
      "JobDisputed",
      "JobSettled",
      "JobCancelled",
      "JobExpired",
      "JobRefused",
    ].reduce((s, n) => s + of(n).length, 0);
    assert.equal(
      await count(`select count(*) as n from ${SCHEMA}.job_status_change`),
      statusEvents,
    );
  });

  it("matches every host's registry state and earnings", async () => {
    const rows = (
      await (sql as pg.Client).query(`select address, status, stake, unbonding from ${SCHEMA}.host`)
    ).rows as { address: string; status: string; stake: string; unbonding: string }[];
    assert.equal(rows.length, history.hosts.length);
    for (const r of rows) {
      const [status, stake, , unbonding] = await chain.publicClient.readContract({
        address: chain.addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "hostState",
        args: [r.address as Address],
      });
      assert.equal(r.status, HOST_STATUS[status], r.address);
      assert.equal(BigInt(r.stake), stake, r.address);
      assert.equal(BigInt(r.unbonding), unbonding, r.address);
    }
    // Every model a host offers, with the context length it advertises (0 on chain = null).
    const models = (
      await (sql as pg.Client).query(
        `select host, model_id, context_length from ${SCHEMA}.host_model`,
      )
    ).rows as { host: Address; model_id: `0x${string}`; context_length: number | null }[];
    let offered = 0;
    for (const h of history.hosts) {
      const ids = await chain.publicClient.readContract({
        address: chain.addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "modelsOf",
        args: [h],
      });
      offered += ids.length;
      for (const id of ids) {
        const row = models.find((m) => m.host === h.toLowerCase() && m.model_id === id);
        const length = await chain.publicClient.readContract({
          address: chain.addresses.NodeRegistry,
          abi: nodeRegistryAbi,
          functionName: "contextLengthOf",
          args: [h, id],
        });
        assert.ok(row, `${h} ${id}`);
        assert.equal(row.context_length, length === 0 ? null : length, `${h} ${id}`);
      }
    }
    assert.equal(models.length, offered, "no row for a model no longer offered");
    assert.ok(
      models.some((m) => m.context_length !== null),
      "the history advertises context lengths",
    );
    // Every job payment counts (even of nothing, after a dispute lost in full); a session's
    // counts when it earns the host something, and the session once.
    const earned = new Map<
      string,
      { amount: bigint; jobs: number; sessionAmount: bigint; sessions: Set<bigint> }
    >();
    // A bond's payout to the host is no earning.
    for (const l of of("PaymentReleased").filter((x) => !isBondLock(x))) {
      const job = isJobLock(l);
      if (!job && l.args.hostAmount === 0n) continue;
      const key = `${l.args.host.toLowerCase()}/${l.args.token.toLowerCase()}`;
      const e = earned.get(key) ?? { amount: 0n, jobs: 0, sessionAmount: 0n, sessions: new Set() };
      e.amount += l.args.hostAmount;
      if (job) e.jobs += 1;
      else {
        e.sessionAmount += l.args.hostAmount;
        e.sessions.add(l.args.id);
      }
      earned.set(key, e);
    }
    const earnings = (
      await (sql as pg.Client).query(
        `select host, token, amount, jobs, session_amount, sessions from ${SCHEMA}.host_earning`,
      )
    ).rows as {
      host: string;
      token: string;
      amount: string;
      jobs: number;
      session_amount: string;
      sessions: number;
    }[];
    assert.equal(earnings.length, earned.size);
    for (const e of earnings) {
      const want = earned.get(`${e.host}/${e.token}`);
      assert.equal(BigInt(e.amount), want?.amount, `${e.host}/${e.token}`);
      assert.equal(e.jobs, want?.jobs);
      assert.equal(BigInt(e.session_amount), want?.sessionAmount, `${e.host}/${e.token}`);
      assert.equal(e.sessions, want?.sessions.size);
    }
    assert.ok(
      earnings.some((e) => e.sessions > 0 && e.jobs > 0),
      "hosts earn from jobs and sessions",
    );
  });

  it("derives daily stats and volume equal to sums over the logs (nothing replayed twice)", async () => {
    const [d] = (
      await (sql as pg.Client).query(
        `select sum(jobs_posted) as posted, sum(jobs_settled) as settled,
                sum(jobs_cancelled) as cancelled, sum(jobs_expired) as expired,
                sum(jobs_refused) as refused,
                sum(sessions_opened) as sessions_opened, sum(sessions_settled) as sessions_settled,
                sum(session_tokens) as session_tokens,
                sum(new_hosts) as new_hosts from ${SCHEMA}.daily_stats`,
      )
    ).rows;
    assert.equal(Number(d.posted), of("JobPosted").length);
    assert.equal(Number(d.settled), of("JobSettled").length);
    assert.equal(Number(d.cancelled), of("JobCancelled").length);
    assert.equal(Number(d.expired), of("JobExpired").length);
    assert.equal(Number(d.refused), of("JobRefused").length);
    assert.ok(of("JobRefused").length > 0, "the history refuses jobs");
    assert.equal(Number(d.sessions_opened), of("SessionOpened").length);
    assert.equal(Number(d.sessions_settled), of("SessionSettled").length);
    // Every session of the history is settled: its tokens are its final receipt's.
    assert.equal(
      BigInt(d.session_tokens),
      of("SessionSettled").reduce((s, l) => s + l.args.tokens, 0n),
    );
    assert.equal(Number(d.new_hosts), new Set(of("HostRegistered").map((l) => l.args.host)).size);
    const volume = (
      await (sql as pg.Client).query(
        `select token, sum(deposits) as deposits, sum(fees) as fees, sum(volume) as volume
           from ${SCHEMA}.daily_volume group by token`,
      )
    ).rows as { token: string; deposits: string; fees: string; volume: string }[];
    // Dispute bonds are neither deposits nor volume.
    assert.ok(of("FundsLocked").some(isBondLock), "the history locks dispute bonds");
    for (const v of volume) {
      const mine = (l: Decoded) => l.args.token.toLowerCase() === v.token && !isBondLock(l);
      const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
      assert.equal(
        BigInt(v.deposits),
        sum(
          of("FundsLocked")
            .filter(mine)
            .map((l) => l.args.amount),
        ),
      );
      const released = of("PaymentReleased").filter(mine);
      const fees = sum(released.map((l) => l.args.treasuryAmount + l.args.stakersAmount));
      assert.equal(BigInt(v.fees), fees);
      assert.equal(BigInt(v.volume), fees + sum(released.map((l) => l.args.hostAmount)));
    }
    assert.equal(volume.length, 2, "ETH and tUSD");
  });

  it("matches every session's on-chain state, its checkpoints and its hosts' counters", async () => {
    const rows = (
      await (sql as pg.Client).query(
        `select id, host, status, deposit, paid, tokens, remaining, refund, host_payment,
                checkpoint_count, close_reason from ${SCHEMA}.session order by id`,
      )
    ).rows as {
      id: string;
      host: string;
      status: string;
      deposit: string;
      paid: string;
      tokens: string;
      remaining: string;
      refund: string | null;
      host_payment: string;
      checkpoint_count: number;
      close_reason: string | null;
    }[];
    assert.ok(history.sessionIds.length >= 12, "the history opens sessions");
    assert.deepEqual(
      rows.map((r) => BigInt(r.id)),
      [...history.sessionIds].sort((a, b) => (a < b ? -1 : 1)),
    );
    const settled = new Map(of("SessionSettled").map((l) => [l.args.sessionId as bigint, l]));
    const sessionLocks = [...of("PaymentReleased"), ...of("FundsRefunded")].filter(
      (l) => !isMarketLock(l),
    );
    for (const r of rows) {
      const id = BigInt(r.id);
      const [status, state] = await chain.publicClient.readContract({
        address: chain.addresses.SessionManager,
        abi: sessionManagerAbi,
        functionName: "sessionState",
        args: [id],
      });
      assert.equal(r.status, SESSION_STATUS[status], `session ${id}`);
      assert.equal(BigInt(r.deposit), state.deposit, `session ${id}`);
      assert.equal(BigInt(r.paid), state.paid, `session ${id}`);
      assert.equal(BigInt(r.tokens), BigInt(state.tokens), `session ${id}`);
      const end = settled.get(id);
      assert.equal(r.close_reason, end ? CLOSE_REASON[end.args.reason] : null, `session ${id}`);
      assert.equal(r.refund === null ? null : BigInt(r.refund), end ? end.args.refund : null);
      if (end) assert.equal(BigInt(r.remaining), 0n);
      assert.equal(
        r.checkpoint_count,
        of("SessionCheckpointed").filter((l) => l.args.sessionId === id).length,
        `session ${id}`,
      );
      assert.equal(
        BigInt(r.host_payment),
        sessionLocks
          .filter((l) => l.name === "PaymentReleased" && l.args.id === id)
          .reduce((s, l) => s + l.args.hostAmount, 0n),
        `session ${id}`,
      );
    }
    assert.deepEqual(
      new Set(rows.map((r) => r.close_reason)),
      new Set(CLOSE_REASON),
      "sessions end in every way",
    );
    assert.equal(
      await count(`select count(*) as n from ${SCHEMA}.session_checkpoint`),
      of("SessionCheckpointed").length,
    );
    // Per host: sessions opened, settled, served (paid anything) and the tokens paid for.
    const hosts = (
      await (sql as pg.Client).query(
        `select address, sessions_opened, sessions_settled, sessions_served, session_tokens_served
           from ${SCHEMA}.host`,
      )
    ).rows as {
      address: string;
      sessions_opened: number;
      sessions_settled: number;
      sessions_served: number;
      session_tokens_served: string;
    }[];
    const hostOf = new Map(
      of("SessionOpened").map((l) => [l.args.sessionId as bigint, l.args.host.toLowerCase()]),
    );
    for (const h of hosts) {
      const mine = [...settled.values()].filter((l) => hostOf.get(l.args.sessionId) === h.address);
      assert.equal(
        h.sessions_opened,
        of("SessionOpened").filter((l) => l.args.host.toLowerCase() === h.address).length,
      );
      assert.equal(h.sessions_settled, mine.length, h.address);
      assert.equal(h.sessions_served, mine.filter((l) => l.args.paid > 0n).length, h.address);
      assert.equal(
        BigInt(h.session_tokens_served),
        mine.reduce((s, l) => s + l.args.tokens, 0n),
        h.address,
      );
    }
  });

  it("gives every escrow movement to its locker's job or session", async () => {
    const rows = (
      await (sql as pg.Client).query(
        `select id, source, job_id, session_id, kind, refund from ${SCHEMA}.payment order by id`,
      )
    ).rows as {
      id: string;
      source: string;
      job_id: string | null;
      session_id: string | null;
      kind: string;
      refund: string;
    }[];
    const moves = logs
      .filter((l) => l.name === "PaymentReleased" || l.name === "FundsRefunded")
      .sort((a, b) => a.id.localeCompare(b.id));
    assert.equal(rows.length, moves.length);
    rows.forEach((r, i) => {
      const l = moves[i] as Decoded;
      assert.equal(r.id, l.id);
      const job = isJobLock(l);
      const bond = isBondLock(l);
      assert.equal(r.source, job ? "job" : bond ? "bond" : "session", r.id);
      // A bond's movement names its disputed job.
      const jobId = job ? String(l.args.id) : bond ? String(l.args.id ^ BOND_BIT) : null;
      assert.equal(r.job_id, jobId, r.id);
      assert.equal(r.session_id, job || bond ? null : String(l.args.id), r.id);
      const kind =
        l.name === "FundsRefunded" ? "refund" : l.args.renter === zeroAddress ? "pay" : "release";
      assert.equal(r.kind, kind, r.id);
      assert.equal(BigInt(r.refund), l.name === "FundsRefunded" ? l.args.amount : l.args.refund);
    });
    assert.deepEqual(new Set(rows.map((r) => r.kind)), new Set(["release", "refund", "pay"]));
    assert.deepEqual(new Set(rows.map((r) => r.source)), new Set(["job", "session", "bond"]));
    // A job's payout and refund are its own lock's.
    const jobs = (
      await (sql as pg.Client).query(
        `select id, host_payment, refund from ${SCHEMA}.job where host_payment is not null`,
      )
    ).rows as { id: string; host_payment: string; refund: string }[];
    const lastMove = new Map(moves.filter(isJobLock).map((l) => [String(l.args.id), l]));
    assert.equal(jobs.length, lastMove.size);
    for (const j of jobs) {
      const l = lastMove.get(j.id) as Decoded;
      const paid = l.name === "FundsRefunded" ? 0n : l.args.hostAmount;
      const refund = l.name === "FundsRefunded" ? l.args.amount : l.args.refund;
      assert.equal(BigInt(j.host_payment), paid, `job ${j.id}`);
      assert.equal(BigInt(j.refund), refund, `job ${j.id}`);
    }
    // Session ids are terms hashes, so they no longer overlap job ids here; the escrow's
    // per-locker key space (job 1 beside a lock 1 of another locker) is tested in
    // test/contracts/payment-escrow.test.ts.
  });

  it("discovers exactly the eligible hosts: under-staked and deregistered ones are hidden", async () => {
    const minimum = await chain.publicClient.readContract({
      address: chain.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "minimumStake",
    });
    const eligible = new Set<string>();
    for (const h of history.hosts) {
      const [status, stake] = await chain.publicClient.readContract({
        address: chain.addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "hostState",
        args: [h],
      });
      if (status === 1 && stake >= minimum) eligible.add(h.toLowerCase());
    }
    assert.equal(
      eligible.size,
      history.hosts.length - history.underStakedHosts.length - history.deregisteredHosts.length,
    );
    const found: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { hosts: { address: string }[]; nextCursor: string | null } } =
        await getJson(
          (indexer as Indexer).url,
          `/hosts?model=llama-3.1-8b&sort=price&limit=7${cursor ? `&cursor=${cursor}` : ""}`,
        );
      found.push(...page.body.hosts.map((h) => h.address));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(new Set(found), eligible);
    assert.equal(found.length, eligible.size, "no host twice across pages");
    const under = history.underStakedHosts[0] as Address;
    const { body } = await getJson((indexer as Indexer).url, `/hosts/${under}`);
    assert.equal(body.status, "Active");
    assert.equal(body.eligible, false);
    assert.equal(BigInt(body.minimumStake), minimum);
  });

  it("matches every host's on-chain reputation record, its ratings, offences and slashes", async () => {
    const rows = (
      await (sql as pg.Client).query(
        `select h.address, h.score, h.slashed as stake_slashed, r.jobs, r.sessions, r.tokens,
                r.abandoned, r.disputes_lost, r.disputes_won, r.challenges_lost, r.offences,
                r.slashed, r.compensation, r.ratings, r.slash_failures
           from ${SCHEMA}.host h left join ${SCHEMA}.host_reputation r on r.host = h.address`,
      )
    ).rows as Record<string, string | number | null>[];
    assert.equal(rows.length, history.hosts.length);
    const mine = (name: string, host: string) =>
      of(name).filter((l) => l.args.host.toLowerCase() === host);
    const scored = logs.filter(
      (l) =>
        l.address.toLowerCase() === chain.addresses.ReputationSystem.toLowerCase() &&
        l.args.score !== undefined,
    );
    let checkedAtBlock = 0;
    for (const r of rows) {
      const host = String(r.address);
      const t = await chain.publicClient.readContract({
        address: chain.addresses.ReputationSystem,
        abi: reputationSystemAbi,
        functionName: "reputationOf",
        args: [host as Address],
      });
      const n = (v: unknown) => Number(v ?? 0);
      assert.deepEqual(
        [n(r.jobs), n(r.sessions), BigInt(r.tokens ?? 0), n(r.abandoned), n(r.disputes_lost)],
        [Number(t.jobs), Number(t.sessions), BigInt(t.tokens), t.abandoned, t.disputesLost],
        host,
      );
      assert.deepEqual(
        [n(r.disputes_won), n(r.challenges_lost)],
        [t.disputesWon, t.challengesLost],
      );
      // The score is the one the host's last reputation event emitted (500 before any).
      const last = scored.filter((l) => l.args.host.toLowerCase() === host).at(-1);
      assert.equal(Number(r.score), last ? Number(last.args.score) : 500, host);
      if (last && last.name !== "DisputeWon") {
        // ...which is the chain's scoreOf at the end of that block, when nothing later in the
        // block touched the host.
        const blockOf = (l: Decoded) => l.id.slice(0, 12);
        const laterInBlock = logs.some(
          (l) =>
            l.id > last.id && blockOf(l) === blockOf(last) && l.args.host?.toLowerCase?.() === host,
        );
        if (!laterInBlock) {
          const then = await chain.publicClient.readContract({
            address: chain.addresses.ReputationSystem,
            abi: reputationSystemAbi,
            functionName: "scoreOf",
            args: [host as Address],
            blockNumber: BigInt(Number(blockOf(last))),
          });
          assert.equal(Number(r.score), then, `${host} at block ${blockOf(last)}`);
          checkedAtBlock++;
        }
      }
      const offences = mine("OffenceRecorded", host);
      const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
      assert.equal(n(r.offences), offences.length, host);
      assert.equal(BigInt(r.slashed ?? 0), sum(offences.map((o) => o.args.slashed)), host);
      assert.equal(
        BigInt(r.compensation ?? 0),
        sum(offences.map((o) => o.args.compensation)),
        host,
      );
      assert.equal(n(r.ratings), mine("Rated", host).length, host);
      assert.equal(n(r.slash_failures), mine("SlashFailed", host).length, host);
      // The registry's total: every HostSlashed (the reputation system's and the admin's).
      assert.equal(
        BigInt(r.stake_slashed ?? 0),
        sum(mine("HostSlashed", host).map((l) => l.args.amount)),
        host,
      );
    }
    assert.ok(
      checkedAtBlock > history.hosts.length / 2,
      `scores checked at ${checkedAtBlock} hosts`,
    );
    assert.ok(of("SlashFailed").length > 0, "the history has a refused slash");
    assert.ok(of("DisputeWon").length > 0 && of("Rated").length > 0);
    assert.equal(await count(`select count(*) as n from ${SCHEMA}.rating`), of("Rated").length);
    assert.equal(
      await count(`select count(*) as n from ${SCHEMA}.slash_failure`),
      of("SlashFailed").length,
    );
    // One offence row per OffenceRecorded, its job named for the marketplace's offences; an
    // abandoned claim was taken back by the claim timeout, before the job's deadline.
    const offenceRows = (
      await (sql as pg.Client).query(
        `select o.id, o.offence, o.job_id, o.slashed, j.finished_at, j.deadline
           from ${SCHEMA}.offence o left join ${SCHEMA}.job j on j.id = o.job_id order by o.id`,
      )
    ).rows as {
      id: string;
      offence: string;
      job_id: string | null;
      slashed: string;
      finished_at: string | null;
      deadline: string | null;
    }[];
    const recorded = of("OffenceRecorded").sort((a, b) => a.id.localeCompare(b.id));
    assert.equal(offenceRows.length, recorded.length);
    offenceRows.forEach((o, i) => {
      const l = recorded[i] as Decoded;
      assert.equal(o.id, l.id);
      assert.equal(o.offence, OFFENCE[l.args.offence]);
      assert.equal(o.job_id, String(BigInt(l.args.ref)));
      assert.equal(BigInt(o.slashed), l.args.slashed);
      if (o.offence === "AbandonedClaim")
        assert.ok(BigInt(o.finished_at ?? 0) < BigInt(o.deadline ?? 0), `job ${o.job_id}`);
    });
    assert.deepEqual(
      new Set(offenceRows.map((o) => o.offence)),
      new Set(["AbandonedClaim", "DisputeLost"]),
    );
    assert.equal(
      offenceRows.filter((o) => o.offence === "AbandonedClaim").length,
      of("JobExpired").filter((l) => JOB_STATUS[l.args.previous] === "Claimed").length,
    );
  });

  it("matches every dispute: its bond, deadline, outcome and where the bond went", async () => {
    const rows = (
      await (sql as pg.Client).query(
        `select job_id, bond, arbitration_deadline, outcome, host_bps, bond_to_host, bond_refund, slashed
           from ${SCHEMA}.dispute order by job_id`,
      )
    ).rows as Record<string, string | number | null>[];
    const opened = of("JobDisputed");
    assert.equal(rows.length, opened.length);
    const settled = new Map(of("JobSettled").map((l) => [String(l.args.jobId), l]));
    const lost = new Map(
      of("OffenceRecorded")
        .filter((l) => OFFENCE[l.args.offence] === "DisputeLost")
        .map((l) => [String(BigInt(l.args.ref)), l]),
    );
    const bondMoves = new Map(
      [...of("PaymentReleased"), ...of("FundsRefunded")]
        .filter(isBondLock)
        .map((l) => [String(l.args.id ^ BOND_BIT), l]),
    );
    for (const r of rows) {
      const id = String(r.job_id);
      const d = opened.find((l) => String(l.args.jobId) === id) as Decoded;
      assert.equal(BigInt(r.bond ?? -1), d.args.bond, `job ${id}`);
      assert.equal(BigInt(r.arbitration_deadline ?? -1), d.args.arbitrationDeadline);
      const end = settled.get(id) as Decoded;
      const kind = SETTLEMENT[end.args.settlement];
      const outcome =
        kind === "Unarbitrated" ? kind : end.args.hostBps < 5_000 ? "HostLost" : "HostWon";
      assert.equal(r.outcome, outcome, `job ${id}`);
      assert.equal(r.host_bps, end.args.hostBps);
      assert.equal(
        r.slashed == null ? null : BigInt(r.slashed),
        lost.get(id)?.args.slashed ?? null,
      );
      const move = bondMoves.get(id) as Decoded;
      const toHost = move.name === "FundsRefunded" ? 0n : move.args.hostAmount;
      const refund = move.name === "FundsRefunded" ? move.args.amount : move.args.refund;
      assert.equal(BigInt(r.bond_to_host ?? -1), toHost, `job ${id}`);
      assert.equal(BigInt(r.bond_refund ?? -1), refund, `job ${id}`);
    }
    assert.deepEqual(
      new Set(rows.map((r) => r.outcome)),
      new Set(["HostWon", "HostLost", "Unarbitrated"]),
    );
    // The host's lost disputes, as the chain counts them.
    assert.equal(await count(`select sum(disputes_lost) as n from ${SCHEMA}.host`), lost.size);
  });

  it("discovers hosts in the order of their on-chain scores and filters by them", async () => {
    const minimum = await chain.publicClient.readContract({
      address: chain.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "minimumStake",
    });
    // Eligible hosts with the score their last reputation event emitted, best first.
    const expected: { address: string; score: number }[] = [];
    for (const h of history.hosts) {
      const [status, stake] = await chain.publicClient.readContract({
        address: chain.addresses.NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "hostState",
        args: [h],
      });
      if (status !== 1 || stake < minimum) continue;
      const address = h.toLowerCase();
      const last = logs
        .filter(
          (l) =>
            l.address.toLowerCase() === chain.addresses.ReputationSystem.toLowerCase() &&
            l.args.score !== undefined &&
            l.args.host.toLowerCase() === address,
        )
        .at(-1);
      expected.push({ address, score: last ? Number(last.args.score) : 500 });
    }
    expected.sort((a, b) => b.score - a.score || a.address.localeCompare(b.address));
    assert.ok(new Set(expected.map((e) => e.score)).size > 3, "hosts differ in score");
    const found: { address: string; score: number }[] = [];
    let cursor: string | null = null;
    do {
      const page: {
        body: { hosts: { address: string; score: number }[]; nextCursor: string | null };
      } = await getJson(
        (indexer as Indexer).url,
        `/hosts?model=llama-3.1-8b&sort=score&limit=5${cursor ? `&cursor=${cursor}` : ""}`,
      );
      found.push(...page.body.hosts.map(({ address, score }) => ({ address, score })));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(found, expected);
    const median = expected[Math.floor(expected.length / 2)]?.score ?? 0;
    const { body } = await getJson(
      (indexer as Indexer).url,
      `/hosts?model=llama-3.1-8b&minScore=${median}&limit=100`,
    );
    assert.deepEqual(
      body.hosts.map((h: { address: string }) => h.address),
      expected.filter((e) => e.score >= median).map((e) => e.address),
    );
  });

  it("publishes the views schema for plain read-only SQL", async () => {
    assert.equal(await count(`select count(*) as n from ${VIEWS}.event_log`), logs.length);
    assert.equal(
      await count(`select sum(jobs_posted) as n from ${VIEWS}.daily_stats`),
      of("JobPosted").length,
    );
    assert.equal(await count(`select count(*) as n from ${VIEWS}.job`), history.jobs);
  });
});
