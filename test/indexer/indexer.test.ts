/**
 * The indexer and API against real parts: a Hardhat node on 127.0.0.1 with the contracts
 * deployed by the production Ignition module, and `ponder start` as a child process, on
 * PGlite and on the local Postgres server (a fresh database per run).
 */
import assert from "node:assert/strict";
import { createClient, sql } from "@ponder/client";
import { keccak256, maxUint256, parseEther, parseEventLogs, stringToHex, zeroAddress } from "viem";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  fabTokenAbi,
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
  reputationSystemAbi,
  testStablecoinAbi,
} from "../../abis/index.ts";
import {
  freshPostgres,
  getJson,
  type Indexer,
  type LocalChain,
  startIndexer,
  startLocalChain,
  waitFor,
} from "../../fixtures/local-chain.ts";
import { runSessionScenario, type SessionScenario } from "./session-scenario.ts";

const MODEL = "llama-3.1-8b";
const MODEL_ID = stringToHex(MODEL, { size: 32 });
const OTHER = "smollm-135m";
const OTHER_ID = stringToHex(OTHER, { size: 32 });
const ETH = zeroAddress;
const FAB = 10n ** 18n;
const CHEAP = parseEther("0.000001");
const DEAR = parseEther("0.000003");
/** The least arbitration window: job 6's dispute settles by default after it. */
const ARBITRATION_WINDOW = 3_600;
/** Job 5 asks for this score of its host (cheap's is higher then). */
const JOB5_MIN_SCORE = 300;

/** Drives the marketplace: two hosts, jobs in every terminal state, advertised context lengths. */
async function runScenario(chain: LocalChain) {
  const admin = chain.wallet(0);
  const renter = chain.wallet(1);
  const cheap = chain.wallet(2);
  const dear = chain.wallet(3);
  /** Dev account 10 holds ARBITER_ROLE (the LocalDev module grants it). */
  const arbiter = chain.wallet(10);
  const { FABToken, NodeRegistry, JobMarketplace, PaymentEscrow } = chain.addresses;
  const send = async (hash: Promise<`0x${string}`>) => {
    const receipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
    assert.equal(receipt.status, "success");
  };
  const hosts = [
    { w: cheap, price: CHEAP, region: "eu-west", gpu: "RTX 4090", stake: 2_000n * FAB },
    { w: dear, price: DEAR, region: "us-east", gpu: "H100 SXM", stake: 5_000n * FAB },
  ];
  for (const h of hosts) {
    await send(
      admin.writeContract({
        address: FABToken,
        abi: fabTokenAbi,
        functionName: "transfer",
        args: [h.w.account.address, h.stake],
        chain: null,
      }),
    );
    await send(
      h.w.writeContract({
        address: FABToken,
        abi: fabTokenAbi,
        functionName: "approve",
        args: [NodeRegistry, maxUint256],
        chain: null,
      }),
    );
    await send(
      h.w.writeContract({
        address: NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "register",
        chain: null,
        args: [
          {
            stake: h.stake,
            hardware: { gpuModel: stringToHex(h.gpu, { size: 32 }), vramMiB: 24_576, gpuCount: 1 },
            region: stringToHex(h.region, { size: 32 }),
            endpoints: {
              peerId: "0x0024",
              multiaddrs: ["/ip4/127.0.0.1/tcp/4001"],
              httpUrl: "http://127.0.0.1:8080",
            },
            metadataDigest: keccak256(stringToHex(h.region)),
            offers: [
              { modelId: MODEL_ID, token: ETH, pricePerToken: h.price },
              { modelId: MODEL_ID, token: chain.stablecoin, pricePerToken: 1n },
            ],
          },
        ],
      }),
    );
  }
  const block = await chain.publicClient.getBlock();
  const request = (token: `0x${string}`, maxPricePerToken: bigint) => ({
    modelId: MODEL_ID,
    promptHash: keccak256(stringToHex("prompt")),
    token,
    maxTokens: 1_000,
    maxPricePerToken,
    deadline: block.timestamp + 3_600n,
    host: zeroAddress as `0x${string}`,
    minScore: 0,
  });
  const post = (r: ReturnType<typeof request>) =>
    send(
      renter.writeContract({
        address: JobMarketplace,
        abi: jobMarketplaceAbi,
        functionName: "postJob",
        args: [r],
        value: r.token === ETH ? BigInt(r.maxTokens) * r.maxPricePerToken : 0n,
        chain: null,
      }),
    );
  const market = (
    w: typeof renter,
    functionName: "claimJob" | "acceptJob" | "cancelJob" | "expireJob",
    id: bigint,
  ) =>
    send(
      w.writeContract({
        address: JobMarketplace,
        abi: jobMarketplaceAbi,
        functionName,
        args: [id],
        chain: null,
      }),
    );
  // Job 1: ETH, settled by acceptance.
  await post(request(ETH, DEAR));
  await market(cheap, "claimJob", 1n);
  await send(
    cheap.writeContract({
      address: JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "completeJob",
      args: [1n, keccak256(stringToHex("answer")), 700],
      chain: null,
    }),
  );
  await market(renter, "acceptJob", 1n);
  // Job 2: cancelled. Job 3: tUSD, claimed then expired.
  await post(request(ETH, DEAR));
  await market(renter, "cancelJob", 2n);
  await send(
    renter.writeContract({
      address: chain.stablecoin,
      abi: testStablecoinAbi,
      functionName: "mint",
      args: [renter.account.address, 10_000n],
      chain: null,
    }),
  );
  await send(
    renter.writeContract({
      address: chain.stablecoin,
      abi: testStablecoinAbi,
      functionName: "approve",
      args: [PaymentEscrow, maxUint256],
      chain: null,
    }),
  );
  await post(request(chain.stablecoin, 2n));
  await market(dear, "claimJob", 3n);
  await chain.testClient.increaseTime({ seconds: 7_200 });
  await chain.mine(1);
  await market(admin, "expireJob", 3n);
  // Context lengths: cheap advertises MODEL's; dear advertises MODEL's and a second model's,
  // then withdraws the second model (its context length is cleared) and offers it again.
  const contexts = (w: typeof renter, list: { modelId: `0x${string}`; contextLength: number }[]) =>
    send(
      w.writeContract({
        address: NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "setModelContexts",
        args: [list],
        chain: null,
      }),
    );
  const offerOther = (pricePerToken: bigint) =>
    send(
      dear.writeContract({
        address: NodeRegistry,
        abi: nodeRegistryAbi,
        functionName: "setOffers",
        args: [[{ modelId: OTHER_ID, token: ETH, pricePerToken }]],
        chain: null,
      }),
    );
  await contexts(cheap, [{ modelId: MODEL_ID, contextLength: 8_192 }]);
  await offerOther(DEAR);
  await contexts(dear, [
    { modelId: MODEL_ID, contextLength: 4_096 },
    { modelId: OTHER_ID, contextLength: 2_048 },
  ]);
  await offerOther(0n); // withdrawn: the model goes, its context length is cleared
  await offerOther(DEAR); // offered again, with no context length yet
  // Job 4: ETH, claimed by cheap, then refused (the renter's prompt does not fit).
  const now = (await chain.publicClient.getBlock()).timestamp;
  await post({ ...request(ETH, DEAR), deadline: now + 3_600n });
  await market(cheap, "claimJob", 4n);
  await send(
    cheap.writeContract({
      address: JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "refuseJob",
      args: [4n, stringToHex("prompt_too_long", { size: 32 })],
      chain: null,
    }),
  );
  // Disputes end within an hour of being opened (the least arbitration window).
  await send(
    (await chain.governance()).writeContract({
      address: JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "setArbitrationWindow",
      args: [ARBITRATION_WINDOW],
      chain: null,
    }),
  );
  /** Completes job `id` as `host` with `tokens`, and the renter disputes it with its bond. */
  const completeAndDispute = async (host: typeof renter, id: bigint, tokens: number) => {
    await send(
      host.writeContract({
        address: JobMarketplace,
        abi: jobMarketplaceAbi,
        functionName: "completeJob",
        args: [id, keccak256(stringToHex(`answer ${id}`)), tokens],
        chain: null,
      }),
    );
    const bond = await chain.publicClient.readContract({
      address: JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "disputeBondOf",
      args: [id],
    });
    const job = await chain.publicClient.readContract({
      address: JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "getJob",
      args: [id],
    });
    await send(
      renter.writeContract({
        address: JobMarketplace,
        abi: jobMarketplaceAbi,
        functionName: "disputeJob",
        args: [id, stringToHex("wrong_answer", { size: 32 })],
        // ETH as value; an ERC-20 bond is pulled through the escrow's allowance.
        value: job[2] === ETH ? bond : 0n,
        chain: null,
      }),
    );
    return bond;
  };
  // Job 5: ETH with a minimum score, completed by cheap, disputed, and lost by cheap in full:
  // an offence, slashed, the renter compensated and its bond returned.
  const later = (await chain.publicClient.getBlock()).timestamp;
  await post({ ...request(ETH, DEAR), deadline: later + 3_600n, minScore: JOB5_MIN_SCORE });
  await market(cheap, "claimJob", 5n);
  const bond5 = await completeAndDispute(cheap, 5n, 500);
  await send(
    arbiter.writeContract({
      address: JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "resolveDispute",
      args: [5n, 0],
      chain: null,
    }),
  );
  // Job 6: tUSD, completed by dear, disputed, and never resolved: past the arbitration
  // deadline anyone applies the default (dear paid in full, the renter's bond returned).
  await post({ ...request(chain.stablecoin, 2n), deadline: later + 3_600n });
  await market(dear, "claimJob", 6n);
  const bond6 = await completeAndDispute(dear, 6n, 400);
  await chain.testClient.increaseTime({ seconds: ARBITRATION_WINDOW + 1 });
  await chain.mine(1);
  await send(
    admin.writeContract({
      address: JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "settleDispute",
      args: [6n],
      chain: null,
    }),
  );
  // The renter rates cheap's job 1 one star and dear's job 6 five stars.
  const rate = (id: bigint, stars: number) =>
    send(
      renter.writeContract({
        address: chain.addresses.ReputationSystem,
        abi: reputationSystemAbi,
        functionName: "rateJob",
        args: [id, stars],
        chain: null,
      }),
    );
  await rate(1n, 1);
  await rate(6n, 5);
  void paymentEscrowAbi;
  return { admin, renter, cheap, dear, bonds: { 5: bond5, 6: bond6 } };
}

for (const database of ["pglite", "postgres"] as const) {
  describe(`indexer and API on ${database}`, { timeout: 300_000 }, () => {
    let chain: LocalChain;
    let indexer: Indexer;
    let actors: Awaited<ReturnType<typeof runScenario>>;
    let sessions: SessionScenario;
    /** The id of the scenario's n-th session (ids are terms hashes, not 1, 2, 3). */
    const S = (n: 1 | 2 | 3): bigint => sessions.ids[n - 1] as bigint;
    /** The scenario's number ("1"-"3") of a session id as the API returns it ("?" if not one). */
    const N = (id: string): string => {
      const i = sessions.ids.findIndex((x) => String(x) === id);
      return i < 0 ? "?" : String(i + 1);
    };
    let dropDb: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      chain = await startLocalChain();
      actors = await runScenario(chain);
      sessions = await runSessionScenario(chain, actors, {
        eth: { cheap: CHEAP, dear: DEAR },
        usd: 1n,
      });
      // The renter rates dear's session 2 (settled, 600 tUSD units paid) five stars.
      const two = sessions.sessions.get(S(2));
      assert.ok(two);
      const hash = await actors.renter.writeContract({
        address: chain.addresses.ReputationSystem,
        abi: reputationSystemAbi,
        functionName: "rateSession",
        args: [two.terms, S(2), 5],
        chain: null,
      });
      const receipt = await chain.publicClient.waitForTransactionReceipt({ hash });
      assert.equal(receipt.status, "success");
      const pgDb = database === "postgres" ? await freshPostgres() : undefined;
      dropDb = pgDb?.drop;
      indexer = await startIndexer(chain, { databaseUrl: pgDb?.url });
      // Session 3 is opened last of all, then session 2 is rated.
      const dear = actors.dear.account.address;
      await waitFor("job 4 refused, session 3 and the last rating indexed", async () => {
        const job = (await getJson(indexer.url, "/jobs/4")).body;
        const last = await getJson(indexer.url, `/sessions/${S(3)}`);
        const record = (await getJson(indexer.url, `/hosts/${dear}`)).body.record;
        return job.status === "Refused" && last.status === 200 && record?.ratings.count === 2
          ? true
          : undefined;
      }).catch((e) => {
        throw new Error(`${e}\n${indexer.output()}`);
      });
    });

    afterAll(async () => {
      await indexer?.stop();
      await chain?.stop();
      await dropDb?.();
    });

    it("tracks a job's status history and its exact payment split", async () => {
      const { status, body } = await getJson(indexer.url, "/jobs/1");
      assert.equal(status, 200);
      assert.equal(body.status, "Settled");
      assert.equal(body.settlement, "Accepted");
      assert.deepEqual(
        body.history.map((h: { status: string }) => h.status),
        ["Posted", "Claimed", "Completed", "Settled"],
      );
      const payment = 700n * CHEAP;
      const [release] = body.payments;
      assert.equal(release.kind, "release");
      assert.equal(BigInt(release.hostAmount), (payment * 8_500n) / 10_000n);
      assert.equal(BigInt(release.treasuryAmount), (payment * 1_000n) / 10_000n);
      assert.equal(BigInt(release.refund), 1_000n * DEAR - payment);
      assert.equal(body.host, actors.cheap.account.address.toLowerCase());
      // Session 1's escrow movements (same id, another locker) are not the job's.
      assert.equal(body.payments.length, 1);
      assert.equal(release.source, "job");
      assert.equal(BigInt(body.hostPayment), (payment * 8_500n) / 10_000n);
      assert.equal(BigInt(body.refund), 1_000n * DEAR - payment);
    });

    it("records cancellation and expiry with refunds", async () => {
      const cancelled = (await getJson(indexer.url, "/jobs/2")).body;
      assert.equal(cancelled.status, "Cancelled");
      assert.equal(BigInt(cancelled.payments[0].refund), 1_000n * DEAR);
      const expired = (await getJson(indexer.url, "/jobs/3")).body;
      assert.equal(expired.status, "Expired");
      assert.equal(BigInt(expired.refund), 2_000n);
      const dear = (await getJson(indexer.url, `/hosts/${actors.dear.account.address}`)).body;
      assert.equal(dear.jobsClaimed, 2);
      assert.equal(dear.jobsExpired, 1);
    });

    it("records a refused job with its reason and the whole deposit refunded", async () => {
      const { status, body } = await getJson(indexer.url, "/jobs/4");
      assert.equal(status, 200);
      assert.equal(body.status, "Refused");
      assert.equal(body.refusalReason, "prompt_too_long");
      assert.equal(body.host, actors.cheap.account.address.toLowerCase());
      assert.deepEqual(
        body.history.map((h: { status: string }) => h.status),
        ["Posted", "Claimed", "Refused"],
      );
      assert.equal(body.payments.length, 1);
      const [refund] = body.payments;
      assert.equal(refund.kind, "refund");
      assert.equal(BigInt(refund.refund), 1_000n * DEAR);
      assert.equal(BigInt(refund.hostAmount), 0n);
      assert.equal(BigInt(body.refund), 1_000n * DEAR);
      assert.equal(BigInt(body.hostPayment), 0n);
      assert.ok(body.finishedAt);
      // Neither a completion nor a failure of the host: its completion rate is over kept claims.
      const cheap = (await getJson(indexer.url, `/hosts/${actors.cheap.account.address}`)).body;
      assert.equal(cheap.jobsClaimed, 3);
      assert.equal(cheap.jobsCompleted, 2);
      assert.equal(cheap.jobsRefused, 1);
      assert.equal(cheap.jobsExpired, 0);
      assert.equal(cheap.performance.completionRate, 1);
      assert.equal(cheap.reputation.components.reliability, 1);
      assert.equal(cheap.reputation.components.expiries, 1);
    });

    it("shows each host's advertised context length for the model, cleared when withdrawn", async () => {
      const byPrice = (await getJson(indexer.url, `/hosts?model=${MODEL}&sort=price`)).body;
      assert.deepEqual(
        byPrice.hosts.map((h: { address: string; contextLength: number | null }) => [
          h.address,
          h.contextLength,
        ]),
        [
          [actors.cheap.account.address.toLowerCase(), 8_192],
          [actors.dear.account.address.toLowerCase(), 4_096],
        ],
      );
      // dear withdrew the second model (clearing its context length) and offered it again.
      const other = (await getJson(indexer.url, `/hosts?model=${OTHER}`)).body;
      assert.deepEqual(
        other.hosts.map((h: { address: string; contextLength: number | null }) => [
          h.address,
          h.contextLength,
        ]),
        [[actors.dear.account.address.toLowerCase(), null]],
      );
      const any = (await getJson(indexer.url, "/hosts")).body;
      assert.ok(any.hosts.length === 2);
      for (const h of any.hosts) assert.equal(h.contextLength, null, "no model, no context");
      const dear = (await getJson(indexer.url, `/hosts/${actors.dear.account.address}`)).body;
      assert.deepEqual(
        [...dear.models].sort((x: { modelId: string }, y: { modelId: string }) =>
          x.modelId.localeCompare(y.modelId),
        ),
        [
          { modelId: MODEL_ID, contextLength: 4_096 },
          { modelId: OTHER_ID, contextLength: null },
        ].sort((x, y) => x.modelId.localeCompare(y.modelId)),
      );
      // The clearing is in the event log too: 8192 (cheap), 4096 and 2048 (dear), then 0.
      const gql = await fetch(`${indexer.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: `{
            eventLogs(where: { name: "ModelContextUpdated" }, orderBy: "id") { items { args } }
            hostModels(where: { modelId: "${MODEL_ID}" }) { items { host contextLength } }
            jobs(where: { status: Refused }) { items { id status refusalReason } }
          }`,
        }),
      });
      const { data, errors } = (await gql.json()) as {
        data: {
          eventLogs: { items: { args: { contextLength: number } }[] };
          hostModels: { items: { host: string; contextLength: number | null }[] };
          jobs: { items: { id: string; status: string; refusalReason: string }[] };
        };
        errors?: unknown;
      };
      assert.equal(errors, undefined, JSON.stringify(errors));
      assert.deepEqual(
        data.eventLogs.items.map((e) => Number(e.args.contextLength)),
        [8_192, 4_096, 2_048, 0],
      );
      assert.equal(data.hostModels.items.length, 2);
      assert.deepEqual(data.jobs.items, [
        { id: "4", status: "Refused", refusalReason: "prompt_too_long" },
      ]);
    });

    it("lists hosts for a model by price, filters them and pages with a cursor", async () => {
      const byPrice = (await getJson(indexer.url, `/hosts?model=${MODEL}&sort=price`)).body;
      assert.deepEqual(
        byPrice.hosts.map((h: { address: string }) => h.address),
        [actors.cheap.account.address.toLowerCase(), actors.dear.account.address.toLowerCase()],
      );
      assert.equal(BigInt(byPrice.hosts[0].pricePerToken), CHEAP);
      const capped = (await getJson(indexer.url, `/hosts?model=${MODEL}&maxPrice=${CHEAP}`)).body;
      assert.equal(capped.hosts.length, 1);
      const region = (await getJson(indexer.url, "/hosts?region=us-east")).body;
      assert.deepEqual(
        region.hosts.map((h: { address: string }) => h.address),
        [actors.dear.account.address.toLowerCase()],
      );
      const gpu = (await getJson(indexer.url, "/hosts?gpu=4090")).body;
      assert.deepEqual(
        gpu.hosts.map((h: { address: string }) => h.address),
        [actors.cheap.account.address.toLowerCase()],
      );
      const first = (await getJson(indexer.url, `/hosts?model=${MODEL}&sort=price&limit=1`)).body;
      assert.equal(first.hosts.length, 1);
      assert.ok(first.nextCursor);
      const second = (
        await getJson(
          indexer.url,
          `/hosts?model=${MODEL}&sort=price&limit=1&cursor=${first.nextCursor}`,
        )
      ).body;
      assert.deepEqual(
        second.hosts.map((h: { address: string }) => h.address),
        [actors.dear.account.address.toLowerCase()],
      );
      assert.equal(second.nextCursor, null);
      const tusd = (
        await getJson(indexer.url, `/hosts?model=${MODEL}&token=${chain.stablecoin}&sort=price`)
      ).body;
      assert.equal(tusd.hosts.length, 2);
    });

    it("rejects bad parameters with 400 naming them and unknown ids with 404", async () => {
      for (const [query, parameter] of [
        ["limit=0", "limit"],
        ["maxPrice=-1&model=x", "maxPrice"],
        ["token=0x12", "token"],
        ["sort=cheapest", "sort"],
        ["minScore=2000", "minScore"],
        ["sort=price", "sort"],
        ["cursor=garbage&sort=score", "cursor"],
        ["colour=blue", "query"],
      ] as const) {
        const { status, body } = await getJson(indexer.url, `/hosts?${query}`);
        assert.equal(status, 400, query);
        assert.equal(body.error.code, "invalid_parameter");
        assert.equal(body.error.parameter ?? "query", parameter, query);
      }
      assert.equal((await getJson(indexer.url, `/hosts/${`0x${"ab".repeat(20)}`}`)).status, 404);
      assert.equal((await getJson(indexer.url, "/hosts/nothex")).status, 400);
      assert.equal((await getJson(indexer.url, "/jobs/999")).status, 404);
      assert.equal((await getJson(indexer.url, "/jobs/abc")).status, 400);
    });

    it("serves models, daily stats, host reputation, the OpenAPI document and GraphQL", async () => {
      const models = (await getJson(indexer.url, "/models")).body.models;
      const m = models.find((x: { id: string }) => x.id === MODEL_ID);
      assert.equal(m.name, MODEL);
      assert.equal(m.hostCount, 2);
      const eth = m.prices.find((p: { token: string }) => p.token === ETH);
      assert.equal(BigInt(eth.minPrice), CHEAP);
      assert.equal(BigInt(eth.maxPrice), DEAR);
      const days = (await getJson(indexer.url, "/stats/daily")).body.days;
      const total = (k: string) =>
        days.reduce((s: number, d: Record<string, number>) => s + (d[k] ?? 0), 0);
      assert.equal(total("jobsPosted"), 6);
      assert.equal(total("jobsSettled"), 3);
      assert.equal(total("jobsCancelled"), 1);
      assert.equal(total("jobsExpired"), 1);
      assert.equal(total("jobsRefused"), 1);
      assert.equal(total("newHosts"), 2);
      const host = (await getJson(indexer.url, `/hosts/${actors.cheap.account.address}`)).body;
      assert.equal(host.performance.completionRate, 1);
      assert.ok(host.reputation.score > 0);
      assert.equal(host.reputation.score, host.indexerScore);
      assert.equal((await getJson(indexer.url, "/openapi.json")).body.openapi, "3.1.0");
      // Discovery answers come from the short-lived cache the second time; jobs never do.
      const cacheOf = async (p: string) =>
        (await fetch(`${indexer.url}${p}`)).headers.get("x-cache");
      await cacheOf("/hosts?limit=3");
      assert.equal(await cacheOf("/hosts?limit=3"), "hit");
      assert.equal(await cacheOf("/jobs/1"), null);
      const gql = await fetch(`${indexer.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ eventLogs(limit: 1000) { items { contract name } } }" }),
      });
      const names = new Set(
        (
          (await gql.json()) as { data: { eventLogs: { items: { name: string }[] } } }
        ).data.eventLogs.items.map((e) => e.name),
      );
      for (const name of [
        "HostRegistered",
        "PriceUpdated",
        "JobPosted",
        "JobClaimed",
        "JobCompleted",
        "JobSettled",
        "JobCancelled",
        "JobExpired",
        "JobRefused",
        "ModelContextUpdated",
        "PaymentReleased",
        "FundsRefunded",
        "FundsLocked",
        "Transfer",
        "SessionOpened",
        "SessionToppedUp",
        "SessionCheckpointed",
        "SessionCloseRequested",
        "SessionSettled",
        "JobDisputed",
        "ArbitrationWindowUpdated",
        "HostSlashed",
        "WorkRecorded",
        "Rated",
        "OffenceRecorded",
      ]) {
        assert.ok(names.has(name), `event log lacks ${name}`);
      }
    });

    type Amount = string;
    interface CheckpointJson {
      tokens: Amount;
      amount: Amount;
      increment: Amount;
      tokensIncrement: Amount;
    }
    interface PaymentJson {
      source: string;
      kind: string;
      sessionId: string | null;
      jobId: string | null;
      renter: string;
      hostAmount: Amount;
      treasuryAmount: Amount;
      stakersAmount: Amount;
      refund: Amount;
    }
    interface EarningJson {
      token: string;
      amount: Amount;
      jobs: number;
      sessions: number;
    }
    const split = (payment: bigint) => {
      const host = (payment * 8_500n) / 10_000n;
      const treasury = (payment * 1_000n) / 10_000n;
      return { host, treasury, stakers: payment - host - treasury };
    };

    it("indexes a session's checkpoints, its settlement and its escrow payments", async () => {
      const { status, body } = await getJson(indexer.url, `/sessions/${S(1)}`);
      assert.equal(status, 200);
      const cheap = actors.cheap.account.address.toLowerCase();
      assert.equal(body.host, cheap);
      assert.equal(body.renter, actors.renter.account.address.toLowerCase());
      assert.equal(body.modelId, MODEL_ID);
      assert.equal(body.token, ETH);
      assert.equal(body.signer, null);
      assert.equal(BigInt(body.pricePerToken), CHEAP);
      assert.equal(body.status, "Settled");
      assert.equal(body.closeReason, "Host");
      assert.equal(body.closedBy, cheap);
      assert.equal(BigInt(body.deposit), 1_000n * CHEAP);
      assert.equal(BigInt(body.paid), 350n * CHEAP);
      assert.equal(BigInt(body.tokens), 350n);
      assert.equal(BigInt(body.remaining), 0n);
      assert.equal(BigInt(body.refund), 650n * CHEAP);
      assert.equal(body.checkpointCount, 3);
      const last = sessions.sessions.get(S(1))?.receipt;
      assert.equal(body.lastDigest, last?.digest);
      assert.ok(body.settledAt && body.settledTx && body.openedTx);
      assert.deepEqual(
        body.checkpoints.map((c: CheckpointJson) => [
          BigInt(c.tokens),
          BigInt(c.amount),
          BigInt(c.increment),
          BigInt(c.tokensIncrement),
        ]),
        [
          [100n, 100n * CHEAP, 100n * CHEAP, 100n],
          [300n, 300n * CHEAP, 200n * CHEAP, 200n],
          [350n, 350n * CHEAP, 50n * CHEAP, 50n],
        ],
      );
      // Two checkpoints pay part of the lock; the close pays the rest of the receipt and refunds.
      assert.deepEqual(
        body.payments.map((p: PaymentJson) => [
          p.source,
          p.kind,
          p.sessionId,
          p.jobId,
          p.renter,
          BigInt(p.hostAmount),
          BigInt(p.treasuryAmount),
          BigInt(p.stakersAmount),
          BigInt(p.refund),
        ]),
        [100n, 200n, 50n].map((tokens, i) => {
          const s = split(tokens * CHEAP);
          return [
            "session",
            i < 2 ? "pay" : "release",
            String(S(1)),
            null,
            actors.renter.account.address.toLowerCase(),
            s.host,
            s.treasury,
            s.stakers,
            i < 2 ? 0n : 650n * CHEAP,
          ];
        }),
      );
      assert.equal(BigInt(body.hostPayment), split(350n * CHEAP).host);

      const two = (await getJson(indexer.url, `/sessions/${S(2)}`)).body;
      assert.equal(two.status, "Settled");
      assert.equal(two.closeReason, "Renter");
      assert.equal(two.closedBy, actors.admin.account.address.toLowerCase());
      assert.equal(two.signer, sessions.signer.toLowerCase());
      assert.equal(two.topUps, 1);
      assert.equal(BigInt(two.deposit), 750n);
      assert.equal(BigInt(two.paid), 600n);
      assert.equal(BigInt(two.refund), 150n);
      assert.ok(two.closeRequestedAt && two.closeAt);
      assert.ok(BigInt(two.closeAt) - BigInt(two.closeRequestedAt) === 3_600n);
      assert.deepEqual(
        two.payments.map((p: PaymentJson) => [p.kind, BigInt(p.hostAmount), BigInt(p.refund)]),
        [
          ["pay", split(600n).host, 0n],
          ["release", 0n, 150n],
        ],
      );
      const three = (await getJson(indexer.url, `/sessions/${S(3)}`)).body;
      assert.equal(three.status, "Open");
      assert.equal(BigInt(three.remaining), 10n * DEAR);
      assert.deepEqual(three.checkpoints, []);
      assert.deepEqual(three.payments, []);
      // Jobs 2 and 3 keep their own refunds.
      assert.equal((await getJson(indexer.url, "/jobs/2")).body.payments.length, 1);
      assert.equal(BigInt((await getJson(indexer.url, "/jobs/3")).body.refund), 2_000n);
    });

    it("lists sessions newest first, filtered, with a cursor, and rejects bad parameters", async () => {
      const ids = async (query: string) => {
        const { status, body } = await getJson(indexer.url, `/sessions${query}`);
        assert.equal(status, 200, query);
        return body.sessions.map((s: { id: string }) => N(s.id));
      };
      assert.deepEqual(await ids(""), ["3", "2", "1"]);
      assert.deepEqual(await ids(`?host=${actors.cheap.account.address}`), ["1"]);
      assert.deepEqual(await ids(`?renter=${actors.renter.account.address}`), ["3", "2", "1"]);
      assert.deepEqual(await ids(`?renter=${actors.cheap.account.address}`), []);
      assert.deepEqual(await ids(`?model=${MODEL}`), ["3", "2", "1"]);
      assert.deepEqual(await ids(`?model=${OTHER_ID}`), []);
      assert.deepEqual(await ids("?status=Open"), ["3"]);
      assert.deepEqual(await ids("?status=Settled"), ["2", "1"]);
      assert.deepEqual(await ids(`?token=${chain.stablecoin}`), ["2"]);
      const first = (await getJson(indexer.url, "/sessions?limit=2")).body;
      assert.deepEqual(
        first.sessions.map((s: { id: string }) => N(s.id)),
        ["3", "2"],
      );
      assert.equal(
        first.nextCursor,
        first.sessions[1].openedEvent,
        "the cursor is the last opening log",
      );
      const second = (await getJson(indexer.url, `/sessions?limit=2&cursor=${first.nextCursor}`))
        .body;
      assert.deepEqual(
        second.sessions.map((s: { id: string }) => N(s.id)),
        ["1"],
      );
      assert.equal(second.nextCursor, null);
      for (const [query, parameter] of [
        ["status=Bogus", "status"],
        ["renter=0x12", "renter"],
        ["limit=0", "limit"],
        ["cursor=abc", "cursor"],
        ["colour=blue", "query"],
      ] as const) {
        const { status, body } = await getJson(indexer.url, `/sessions?${query}`);
        assert.equal(status, 400, query);
        assert.equal(body.error.parameter ?? "query", parameter, query);
      }
      assert.equal((await getJson(indexer.url, "/sessions/99")).status, 404);
      assert.equal((await getJson(indexer.url, "/sessions?cursor=2")).status, 400);
      assert.equal((await getJson(indexer.url, "/sessions/abc")).status, 400);
    });

    it("counts sessions per host, model and day, and in the hosts' earnings", async () => {
      const cheap = (await getJson(indexer.url, `/hosts/${actors.cheap.account.address}`)).body;
      assert.equal(cheap.sessionsOpened, 1);
      assert.equal(cheap.sessionsSettled, 1);
      assert.equal(cheap.sessionsServed, 1);
      assert.equal(BigInt(cheap.sessionTokensServed), 350n);
      assert.equal(cheap.performance.sessionServedRate, 1);
      assert.equal(cheap.reputation.score, cheap.indexerScore);
      const [eth] = cheap.earnings;
      assert.equal(cheap.earnings.length, 1);
      assert.equal(eth.token, ETH);
      // Jobs 1 and 5 (paid nothing: the dispute was lost in full).
      assert.equal(eth.jobs, 2);
      assert.equal(eth.sessions, 1);
      assert.equal(BigInt(eth.sessionAmount), split(350n * CHEAP).host);
      assert.equal(BigInt(eth.amount), split(700n * CHEAP).host + split(350n * CHEAP).host);
      const dear = (await getJson(indexer.url, `/hosts/${actors.dear.account.address}`)).body;
      assert.equal(dear.sessionsOpened, 2);
      assert.equal(dear.sessionsSettled, 1);
      assert.equal(dear.sessionsServed, 1);
      assert.equal(BigInt(dear.sessionTokensServed), 600n);
      // Session 2, and job 6 (paid in full by the default after its unresolved dispute).
      assert.deepEqual(
        dear.earnings.map((e: EarningJson) => [e.token, BigInt(e.amount), e.jobs, e.sessions]),
        [[chain.stablecoin.toLowerCase(), split(600n).host + split(400n).host, 1, 1]],
      );
      const listed = (await getJson(indexer.url, `/hosts?model=${MODEL}&sort=price`)).body.hosts;
      assert.deepEqual(
        listed.map((h: { sessionsServed: number; sessionTokensServed: string }) => [
          h.sessionsServed,
          BigInt(h.sessionTokensServed),
        ]),
        [
          [1, 350n],
          [1, 600n],
        ],
      );
      const model = (await getJson(indexer.url, "/models")).body.models.find(
        (m: { id: string }) => m.id === MODEL_ID,
      );
      assert.equal(model.sessionsOpened, 3);
      assert.equal(BigInt(model.sessionTokensServed), 950n);
      const days = (await getJson(indexer.url, "/stats/daily")).body.days;
      const total = (k: string) =>
        days.reduce(
          (s: bigint, d: Record<string, string | number | undefined>) => s + BigInt(d[k] ?? 0),
          0n,
        );
      assert.equal(total("sessionsOpened"), 3n);
      assert.equal(total("sessionsSettled"), 2n);
      assert.equal(total("sessionTokens"), 950n);
    });

    it("serves sessions and their checkpoints through GraphQL and SQL", async () => {
      const gql = await fetch(`${indexer.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: `{
            sessions(where: { status: Settled }, orderBy: "id") {
              items { id closeReason checkpointCount checkpoints { items { tokens } } payments { items { kind source } } }
            }
            payments(where: { source: session, kind: pay }) { totalCount }
          }`,
        }),
      });
      const { data, errors } = (await gql.json()) as {
        data: {
          sessions: {
            items: {
              id: string;
              closeReason: string;
              checkpointCount: number;
              checkpoints: { items: { tokens: string }[] };
              payments: { items: { kind: string; source: string }[] };
            }[];
          };
          payments: { totalCount: number };
        };
        errors?: unknown;
      };
      assert.equal(errors, undefined, JSON.stringify(errors));
      assert.deepEqual(
        [...data.sessions.items]
          .sort((x, y) => N(x.id).localeCompare(N(y.id)))
          .map((s) => [
            N(s.id),
            s.closeReason,
            s.checkpointCount,
            s.checkpoints.items.length,
            s.payments.items.length,
          ]),
        [
          ["1", "Host", 3, 3, 3],
          ["2", "Renter", 1, 1, 2],
        ],
      );
      assert.equal(data.payments.totalCount, 3);
      const client = createClient(`${indexer.url}/sql`);
      const result = (await client.db.execute(
        sql`select status, count(*)::int as n, sum(tokens)::text as tokens from session group by status order by status`,
      )) as unknown as { rows?: unknown[] } | unknown[];
      const rows = Array.isArray(result) ? result : (result.rows ?? []);
      assert.deepEqual(rows, [
        { status: "Open", n: 1, tokens: "0" },
        { status: "Settled", n: 2, tokens: "950" },
      ]);
    });

    /** The chain's own account of a host: its lifetime totals, and the score its last event emitted (read at that block). */
    async function onChain(address: `0x${string}`) {
      const { ReputationSystem } = chain.addresses;
      const logs = parseEventLogs({
        abi: reputationSystemAbi,
        logs: await chain.publicClient.getLogs({ address: ReputationSystem, fromBlock: 0n }),
      });
      const scored = logs.filter(
        (l) =>
          "score" in l.args &&
          "host" in l.args &&
          l.args.host.toLowerCase() === address.toLowerCase(),
      );
      const last = scored.at(-1);
      assert.ok(last && "score" in last.args);
      const [record, scoreThen] = await Promise.all([
        chain.publicClient.readContract({
          address: ReputationSystem,
          abi: reputationSystemAbi,
          functionName: "reputationOf",
          args: [address],
        }),
        chain.publicClient.readContract({
          address: ReputationSystem,
          abi: reputationSystemAbi,
          functionName: "scoreOf",
          args: [address],
          blockNumber: last.blockNumber,
        }),
      ]);
      const offences = logs.flatMap((l) =>
        l.eventName === "OffenceRecorded" && l.args.host.toLowerCase() === address.toLowerCase()
          ? [l.args]
          : [],
      );
      return { record, score: last.args.score, scoreThen, offences };
    }

    it("indexes disputes with their bonds and outcomes, and never takes a bond for a job", async () => {
      const renter = actors.renter.account.address.toLowerCase();
      const five = (await getJson(indexer.url, "/jobs/5")).body;
      assert.equal(five.status, "Settled");
      assert.equal(five.settlement, "Resolved");
      assert.equal(five.hostBps, 0);
      assert.equal(five.minScore, JOB5_MIN_SCORE);
      // The job's own lock: released with nothing to the host, the deposit refunded.
      assert.deepEqual(
        five.payments.map((p: PaymentJson) => [p.source, p.kind, BigInt(p.hostAmount)]),
        [["job", "release", 0n]],
      );
      assert.equal(BigInt(five.refund), 1_000n * DEAR);
      const bond5 = actors.bonds[5];
      assert.ok(bond5 > 0n);
      assert.equal(bond5, (500n * CHEAP * 1_000n) / 10_000n, "10% of the disputed payment");
      const d5 = five.dispute;
      assert.equal(d5.outcome, "HostLost");
      assert.equal(d5.renter, renter);
      assert.equal(d5.host, actors.cheap.account.address.toLowerCase());
      assert.equal(d5.reasonText, "wrong_answer");
      assert.equal(BigInt(d5.bond), bond5);
      assert.equal(BigInt(d5.bondRefund), bond5);
      assert.equal(BigInt(d5.bondToHost), 0n);
      assert.equal(
        BigInt(d5.arbitrationDeadline) - BigInt(d5.openedAt),
        BigInt(ARBITRATION_WINDOW),
      );
      assert.deepEqual(
        d5.bondPayments.map((p: PaymentJson) => [p.source, p.kind, p.jobId, BigInt(p.refund)]),
        [["bond", "refund", "5", bond5]],
      );
      // Lost below half: an offence, slashed, half of the slash to the renter.
      const cheap = await onChain(actors.cheap.account.address);
      const [lost] = cheap.offences;
      assert.ok(lost && lost.slashed > 0n);
      assert.equal(BigInt(d5.slashed), lost.slashed);
      assert.deepEqual(
        five.offences.map(
          (o: { offence: string; wronged: string; jobId: string; compensation: string }) => [
            o.offence,
            o.wronged,
            o.jobId,
            BigInt(o.compensation),
          ],
        ),
        [["DisputeLost", renter, "5", lost.slashed / 2n]],
      );

      const six = (await getJson(indexer.url, "/jobs/6")).body;
      assert.equal(six.settlement, "Unarbitrated");
      const d6 = six.dispute;
      assert.equal(d6.outcome, "Unarbitrated");
      assert.equal(d6.hostBps, 10_000);
      assert.equal(d6.slashed, null);
      assert.equal(BigInt(d6.bond), 40n);
      assert.equal(BigInt(d6.bondRefund), 40n);
      assert.ok(BigInt(d6.settledAt) > BigInt(d6.arbitrationDeadline));
      assert.deepEqual(
        six.payments.map((p: PaymentJson) => [p.source, p.kind, BigInt(p.hostAmount)]),
        [["job", "release", split(400n).host]],
      );
      assert.deepEqual(six.offences, []);
      assert.equal(six.rating.stars, 5);
      assert.equal(BigInt(six.rating.weight), 40n, "400 tUSD units paid / a rating unit of 10");
      // Jobs without a dispute have none.
      assert.equal((await getJson(indexer.url, "/jobs/1")).body.dispute, null);

      // A bond's escrow id (job id | 2^255) is no job, and no job row was made for it.
      const bondId = 5n | (1n << 255n);
      assert.equal((await getJson(indexer.url, `/jobs/${bondId}`)).status, 404);
      const client = createClient(`${indexer.url}/sql`);
      const rowsOf = (r: unknown) =>
        Array.isArray(r) ? r : ((r as { rows?: unknown[] }).rows ?? []);
      assert.deepEqual(
        rowsOf(
          await client.db.execute(sql`select count(*)::int as n, max(id)::text as last from job`),
        ),
        [{ n: 6, last: "6" }],
      );
      assert.deepEqual(
        rowsOf(
          await client.db.execute(
            sql`select source, job_id::text as job, kind from payment where source = 'bond' order by job_id`,
          ),
        ),
        [
          { source: "bond", job: "5", kind: "refund" },
          { source: "bond", job: "6", kind: "refund" },
        ],
      );
      // Deposits in ETH are the jobs' and sessions' locks, not bond5.
      const [eth] = rowsOf(
        await client.db.execute(
          sql`select sum(deposits)::text as deposits from daily_volume where token = ${ETH}`,
        ),
      ) as { deposits: string }[];
      assert.equal(BigInt(eth?.deposits ?? 0), 4_000n * DEAR + 1_000n * CHEAP + 10n * DEAR);

      const list = async (query: string) => {
        const { status, body } = await getJson(indexer.url, `/disputes${query}`);
        assert.equal(status, 200, query);
        return body.disputes.map((d: { jobId: string; outcome: string }) => [d.jobId, d.outcome]);
      };
      assert.deepEqual(await list(""), [
        ["6", "Unarbitrated"],
        ["5", "HostLost"],
      ]);
      assert.deepEqual(await list("?outcome=HostLost"), [["5", "HostLost"]]);
      assert.deepEqual(await list(`?host=${actors.dear.account.address}`), [["6", "Unarbitrated"]]);
      assert.deepEqual(await list("?outcome=Open"), []);
      const page = (await getJson(indexer.url, "/disputes?limit=1")).body;
      assert.equal(page.nextCursor, "6");
      assert.deepEqual(await list(`?limit=1&cursor=${page.nextCursor}`), [["5", "HostLost"]]);
      assert.equal((await getJson(indexer.url, "/disputes?outcome=Lost")).status, 400);
      assert.equal((await getJson(indexer.url, "/disputes?colour=blue")).status, 400);
    });

    it("shows each host's on-chain record, ratings and offences as the chain has them", async () => {
      for (const actor of [actors.cheap, actors.dear]) {
        const address = actor.account.address;
        const chainSide = await onChain(address);
        const body = (await getJson(indexer.url, `/hosts/${address}`)).body;
        const r = body.record;
        // The score the host's last reputation event emitted: the chain's own at that block.
        assert.equal(chainSide.score, chainSide.scoreThen, address);
        assert.equal(body.score, chainSide.score, address);
        assert.equal(r.score, chainSide.score, address);
        const t = chainSide.record;
        assert.deepEqual(
          [r.jobs, r.sessions, BigInt(r.tokens), r.abandoned, r.disputesLost, r.disputesWon],
          [
            Number(t.jobs),
            Number(t.sessions),
            BigInt(t.tokens),
            t.abandoned,
            t.disputesLost,
            t.disputesWon,
          ],
          address,
        );
        const slashed = chainSide.offences.reduce((sum, o) => sum + o.slashed, 0n);
        assert.equal(BigInt(r.slashed), slashed, address);
        assert.equal(r.offences, chainSide.offences.length, address);
        // Every slash went through the registry: the host's stake shows it.
        assert.equal(BigInt(body.slashed), slashed, address);
        assert.equal(body.offences.length, chainSide.offences.length, address);
      }
      const cheap = (await getJson(indexer.url, `/hosts/${actors.cheap.account.address}`)).body;
      assert.deepEqual(
        [
          cheap.record.jobs,
          cheap.record.sessions,
          cheap.record.disputesLost,
          cheap.record.abandoned,
        ],
        [2, 1, 1, 0],
      );
      assert.deepEqual(cheap.record.ratings.count, 1);
      assert.equal(cheap.record.ratings.average, 1);
      assert.deepEqual(
        cheap.ratings.map((x: { kind: string; jobId: string; stars: number }) => [
          x.kind,
          x.jobId,
          x.stars,
        ]),
        [["Job", "1", 1]],
      );
      assert.deepEqual(
        cheap.disputes.map((x: { jobId: string; outcome: string }) => [x.jobId, x.outcome]),
        [["5", "HostLost"]],
      );
      assert.equal(cheap.disputesLost, 1, "the indexer's counter agrees with the chain's rule");
      const dear = (await getJson(indexer.url, `/hosts/${actors.dear.account.address}`)).body;
      assert.deepEqual(
        [dear.record.jobs, dear.record.sessions, dear.record.abandoned, dear.record.disputesLost],
        [1, 1, 1, 0],
      );
      assert.deepEqual(
        dear.ratings.map(
          (x: {
            kind: string;
            jobId: string | null;
            sessionId: string | null;
            stars: number;
            weight: string;
          }) => [x.kind, x.jobId ?? x.sessionId, x.stars, BigInt(x.weight)],
        ),
        [
          ["Session", String(S(2)), 5, 60n],
          ["Job", "6", 5, 40n],
        ],
      );
      assert.equal(dear.record.ratings.average, 5);
      assert.equal(BigInt(dear.record.ratings.weight), 100n);
      assert.deepEqual(
        dear.offences.map((o: { offence: string; jobId: string }) => [o.offence, o.jobId]),
        [["AbandonedClaim", "3"]],
      );
      assert.deepEqual(
        dear.disputes.map((x: { jobId: string; outcome: string }) => [x.jobId, x.outcome]),
        [["6", "Unarbitrated"]],
      );
    });

    it("sorts and filters discovery by the on-chain score", async () => {
      const cheap = actors.cheap.account.address.toLowerCase();
      const dear = actors.dear.account.address.toLowerCase();
      const [c, d] = await Promise.all([
        onChain(actors.cheap.account.address),
        onChain(actors.dear.account.address),
      ]);
      // The scenario leaves dear (rated five stars, one abandoned claim) above cheap (rated one
      // star, a dispute lost), while the indexer's own score ranks them the other way round.
      assert.ok(d.score > c.score, `dear ${d.score}, cheap ${c.score}`);
      const addresses = (body: { hosts: { address: string }[] }) =>
        body.hosts.map((h) => h.address);
      const byScore = (await getJson(indexer.url, `/hosts?model=${MODEL}&sort=score`)).body;
      assert.deepEqual(addresses(byScore), [dear, cheap]);
      assert.deepEqual(
        byScore.hosts.map((h: { score: number }) => h.score),
        [d.score, c.score],
      );
      const [first, second] = byScore.hosts;
      assert.ok(
        first.indexerScore < second.indexerScore,
        "the indexer's score orders them otherwise",
      );
      assert.deepEqual(
        [second.offences, second.ratingCount, second.ratingAverage, BigInt(second.slashed) > 0n],
        [1, 1, 1, true],
      );
      assert.deepEqual([first.ratingCount, first.ratingAverage], [2, 5]);
      // Without a model too (the default sort), and page by page.
      assert.deepEqual(addresses((await getJson(indexer.url, "/hosts")).body), [dear, cheap]);
      const page1 = (await getJson(indexer.url, "/hosts?sort=score&limit=1")).body;
      assert.deepEqual(addresses(page1), [dear]);
      const page2 = (
        await getJson(indexer.url, `/hosts?sort=score&limit=1&cursor=${page1.nextCursor}`)
      ).body;
      assert.deepEqual(addresses(page2), [cheap]);
      assert.equal(page2.nextCursor, null);
      // Price still orders them the other way.
      assert.deepEqual(
        addresses((await getJson(indexer.url, `/hosts?model=${MODEL}&sort=price`)).body),
        [cheap, dear],
      );
      // minScore keeps the hosts whose on-chain score reaches it.
      const atLeast = async (n: number) =>
        addresses((await getJson(indexer.url, `/hosts?model=${MODEL}&minScore=${n}`)).body);
      assert.deepEqual(await atLeast(c.score), [dear, cheap]);
      assert.deepEqual(await atLeast(c.score + 1), [dear]);
      assert.deepEqual(await atLeast(d.score), [dear]);
      assert.deepEqual(await atLeast(d.score + 1), []);
    });

    it("serves the reputation tables through GraphQL", async () => {
      const gql = await fetch(`${indexer.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          query: `{
            hosts(orderBy: "score", orderDirection: "desc") { items { address score record { jobs offences } } }
            disputes(where: { outcome: Unarbitrated }) { items { jobId bond jobRow { settlement } } }
            offences { items { offence jobId hostRow { address } } }
            ratings { totalCount }
            marketplaceConfigs { items { arbitrationWindow claimTimeout disputeBondBps } }
            reputationConfigs { items { halfLife disputeLostBps compensationBps discountMinScore } }
          }`,
        }),
      });
      const { data, errors } = (await gql.json()) as {
        // biome-ignore lint/suspicious/noExplicitAny: checked field by field below
        data: any;
        errors?: unknown;
      };
      assert.equal(errors, undefined, JSON.stringify(errors));
      assert.deepEqual(
        data.hosts.items.map((h: { address: string; record: { offences: number } }) => [
          h.address,
          h.record.offences,
        ]),
        [
          [actors.dear.account.address.toLowerCase(), 1],
          [actors.cheap.account.address.toLowerCase(), 1],
        ],
      );
      assert.deepEqual(data.disputes.items, [
        { jobId: "6", bond: "40", jobRow: { settlement: "Unarbitrated" } },
      ]);
      assert.equal(data.offences.items.length, 2);
      assert.equal(data.ratings.totalCount, 3);
      assert.deepEqual(data.marketplaceConfigs.items, [
        { arbitrationWindow: ARBITRATION_WINDOW, claimTimeout: 3_600, disputeBondBps: 1_000 },
      ]);
      assert.deepEqual(data.reputationConfigs.items, [
        {
          halfLife: 30 * 86_400,
          disputeLostBps: 500,
          compensationBps: 5_000,
          discountMinScore: 800,
        },
      ]);
    });
  });
}
