/** Renter-side steps on a local chain for node tests: post a job for a request, read a job. */
import { type Hex, zeroAddress } from "viem";
import { JOB_STATUS, jobMarketplaceAbi } from "../../abis/index.ts";
import { requestHash } from "../../node/auth/job-auth.ts";
import { chainModelId } from "../../node/chain/model-id.ts";
import type { ServeRequest } from "../../node/serving/types.ts";
import type { LocalChain } from "./local-chain.ts";

export async function readJob(chain: LocalChain, id: bigint) {
  const [j] = await chain.publicClient.readContract({
    address: chain.addresses.JobMarketplace,
    abi: jobMarketplaceAbi,
    functionName: "getJob",
    args: [id],
  });
  return { ...j, status: JOB_STATUS[j.status] };
}

/** The renter (dev account `renterIndex`) posts an ETH job for `request`; returns its id. */
export async function postJob(
  chain: LocalChain,
  renterIndex: number,
  request: Pick<ServeRequest, "model" | "messages" | "prompt" | "params">,
  opts: { ttl?: number; maxTokens?: number; maxPricePerToken: bigint; host?: Hex },
): Promise<bigint> {
  const wallet = chain.wallet(renterIndex);
  const maxTokens = opts.maxTokens ?? 32;
  const now = Number((await chain.publicClient.getBlock()).timestamp);
  const args = [
    {
      modelId: chainModelId(request.model),
      promptHash: requestHash(request),
      token: zeroAddress,
      maxTokens,
      maxPricePerToken: opts.maxPricePerToken,
      deadline: BigInt(now + (opts.ttl ?? 3_600)),
      host: opts.host ?? zeroAddress,
    },
  ] as const;
  const value = BigInt(maxTokens) * opts.maxPricePerToken;
  const { result } = await chain.publicClient.simulateContract({
    address: chain.addresses.JobMarketplace,
    abi: jobMarketplaceAbi,
    functionName: "postJob",
    args,
    value,
    account: wallet.account.address,
  });
  const hash = await wallet.writeContract({
    address: chain.addresses.JobMarketplace,
    abi: jobMarketplaceAbi,
    functionName: "postJob",
    args,
    value,
  });
  await chain.publicClient.waitForTransactionReceipt({ hash });
  return result;
}

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
