/**
 * The indexer and API against real parts: a Hardhat node on 127.0.0.1 with the contracts
 * deployed by the production Ignition module, and `ponder start` as a child process, on
 * PGlite and on the local Postgres server (a fresh database per run).
 */
import assert from "node:assert/strict";
import { keccak256, maxUint256, parseEther, stringToHex, zeroAddress } from "viem";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  fabTokenAbi,
  jobMarketplaceAbi,
  nodeRegistryAbi,
  paymentEscrowAbi,
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

const MODEL = "llama-3.1-8b";
const MODEL_ID = stringToHex(MODEL, { size: 32 });
const OTHER = "smollm-135m";
const OTHER_ID = stringToHex(OTHER, { size: 32 });
const ETH = zeroAddress;
const FAB = 10n ** 18n;
const CHEAP = parseEther("0.000001");
const DEAR = parseEther("0.000003");

/** Drives the marketplace: two hosts, jobs in every terminal state, advertised context lengths. */
async function runScenario(chain: LocalChain) {
  const admin = chain.wallet(0);
  const renter = chain.wallet(1);
  const cheap = chain.wallet(2);
  const dear = chain.wallet(3);
  const { FABToken, NodeRegistry, JobMarketplace, PaymentEscrow } = chain.addresses;
  const send = async (hash: Promise<`0x${string}`>) => {
    const receipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
    assert.equal(receipt.status, "success");
  };
  const hosts = [
    { w: cheap, price: CHEAP, region: "eu-west", gpu: "RTX 4090", stake: 1_000n * FAB },
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
  void paymentEscrowAbi;
  return { renter, cheap, dear };
}

for (const database of ["pglite", "postgres"] as const) {
  describe(`indexer and API on ${database}`, { timeout: 300_000 }, () => {
    let chain: LocalChain;
    let indexer: Indexer;
    let actors: Awaited<ReturnType<typeof runScenario>>;
    let dropDb: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      chain = await startLocalChain();
      actors = await runScenario(chain);
      const pgDb = database === "postgres" ? await freshPostgres() : undefined;
      dropDb = pgDb?.drop;
      indexer = await startIndexer(chain, { databaseUrl: pgDb?.url });
      await waitFor("job 4 indexed as refused", async () => {
        const { body } = await getJson(indexer.url, "/jobs/4");
        return body.status === "Refused" ? true : undefined;
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
    });

    it("records cancellation and expiry with refunds", async () => {
      const cancelled = (await getJson(indexer.url, "/jobs/2")).body;
      assert.equal(cancelled.status, "Cancelled");
      assert.equal(BigInt(cancelled.payments[0].refund), 1_000n * DEAR);
      const expired = (await getJson(indexer.url, "/jobs/3")).body;
      assert.equal(expired.status, "Expired");
      assert.equal(BigInt(expired.refund), 2_000n);
      const dear = (await getJson(indexer.url, `/hosts/${actors.dear.account.address}`)).body;
      assert.equal(dear.jobsClaimed, 1);
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
      assert.equal(cheap.jobsClaimed, 2);
      assert.equal(cheap.jobsCompleted, 1);
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
      assert.equal(total("jobsPosted"), 4);
      assert.equal(total("jobsSettled"), 1);
      assert.equal(total("jobsCancelled"), 1);
      assert.equal(total("jobsExpired"), 1);
      assert.equal(total("jobsRefused"), 1);
      assert.equal(total("newHosts"), 2);
      const host = (await getJson(indexer.url, `/hosts/${actors.cheap.account.address}`)).body;
      assert.equal(host.performance.completionRate, 1);
      assert.ok(host.reputation.score > 0);
      assert.equal(host.reputation.score, host.score);
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
      ]) {
        assert.ok(names.has(name), `event log lacks ${name}`);
      }
    });
  });
}
