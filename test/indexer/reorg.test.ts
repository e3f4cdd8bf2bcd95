/**
 * Chain reorganisations: rows written for blocks that a reorg removes disappear from the
 * API. A real Hardhat node reverts to a snapshot (evm_revert) and mines a longer chain.
 */
import assert from "node:assert/strict";
import { keccak256, parseEther, stringToHex, zeroAddress } from "viem";
import { afterAll, beforeAll, describe, it } from "vitest";
import { jobMarketplaceAbi } from "../../abis/index.ts";
import {
  getJson,
  type Indexer,
  type LocalChain,
  startIndexer,
  startLocalChain,
  waitFor,
} from "../../fixtures/local-chain.ts";

describe("indexer under a reorg", { timeout: 300_000 }, () => {
  let chain: LocalChain;
  let indexer: Indexer;

  beforeAll(async () => {
    chain = await startLocalChain();
    indexer = await startIndexer(chain);
  });

  afterAll(async () => {
    await indexer?.stop();
    await chain?.stop();
  });

  async function postJob(): Promise<void> {
    const renter = chain.wallet(1);
    const block = await chain.publicClient.getBlock();
    const r = {
      modelId: stringToHex("reorg-model", { size: 32 }),
      promptHash: keccak256(stringToHex("p")),
      token: zeroAddress as `0x${string}`,
      maxTokens: 10,
      maxPricePerToken: parseEther("0.000001"),
      deadline: block.timestamp + 3_600n,
      host: zeroAddress as `0x${string}`,
      minScore: 0,
    };
    const hash = await renter.writeContract({
      address: chain.addresses.JobMarketplace,
      abi: jobMarketplaceAbi,
      functionName: "postJob",
      args: [r],
      value: 10n * r.maxPricePerToken,
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
  }

  it("removes the rows of reverted blocks", async () => {
    await postJob();
    await waitFor("job 1", async () =>
      (await getJson(indexer.url, "/jobs/1")).status === 200 ? true : undefined,
    );
    const snapshot = await chain.testClient.snapshot();
    await postJob();
    await waitFor("job 2", async () =>
      (await getJson(indexer.url, "/jobs/2")).status === 200 ? true : undefined,
    );
    const before = (await getJson(indexer.url, "/stats/daily")).body.days[0].jobsPosted;
    assert.equal(before, 2);

    await chain.testClient.revert({ id: snapshot });
    // A longer replacement chain without job 2.
    await chain.mine(5);
    // Ponder may revert further back than the fork and re-index the blocks in between, so
    // job 1 can be missing for a moment too: wait for the settled state, then check it.
    await waitFor("job 2 to disappear and job 1 to stay", async () =>
      (await getJson(indexer.url, "/jobs/2")).status === 404 &&
      (await getJson(indexer.url, "/jobs/1")).status === 200
        ? true
        : undefined,
    ).catch((e) => {
      throw new Error(`${e}\n${indexer.output()}`);
    });
    assert.equal((await getJson(indexer.url, "/jobs/1")).status, 200);
    assert.equal((await getJson(indexer.url, "/jobs/2")).status, 404);
    assert.equal((await getJson(indexer.url, "/stats/daily")).body.days[0].jobsPosted, 1);

    // The new chain goes on being indexed.
    await postJob();
    const job = await waitFor("the new job 2", async () => {
      const { status, body } = await getJson(indexer.url, "/jobs/2");
      return status === 200 ? body : undefined;
    });
    assert.equal(job.status, "Posted");
  });
});
