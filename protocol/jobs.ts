/**
 * A marketplace job as both ends read it from the chain. The shape is derived from the
 * JobMarketplace ABI's `getJob` return type, and the status is the contract's own enum label
 * (generated into abis/enums.ts from IJobMarketplace.sol), so nothing here is typed twice.
 */
import type { Address, ContractFunctionReturnType, Hex } from "viem";
import { JOB_STATUS, jobMarketplaceAbi } from "../abis/index.ts";
import type { ChainClient } from "./chain-client.ts";
import { FabstirError } from "./errors.ts";

/** The most output tokens one job may pay for (the contract stores maxTokens in 24 bits). */
export const MAX_JOB_TOKENS = 2 ** 24 - 1;

/** JobMarketplace's JobStatus, by label. */
export type JobStatus = (typeof JOB_STATUS)[number];

/** The stored job struct as `getJob` returns it. */
export type OnchainJob = ContractFunctionReturnType<typeof jobMarketplaceAbi, "view", "getJob">[0];

/** A job with its id, its status by label, and the model and token of its offer. */
export type Job = Omit<OnchainJob, "status"> & {
  id: bigint;
  status: JobStatus;
  modelId: Hex;
  token: Address;
};

/** A status value the generated labels do not know: the ABIs are older than the contract. */
export class UnknownJobStatusError extends FabstirError {
  override readonly code = "chain_error";
}

export function jobStatus(value: number): JobStatus {
  const label = JOB_STATUS[value];
  if (label === undefined)
    throw new UnknownJobStatusError(`job status ${value} is unknown: rebuild the ABIs`);
  return label;
}

/** Statuses in which a job will never change again. */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = [
  "Settled",
  "Cancelled",
  "Expired",
  "Refused",
];

/** What `getJob` returns, as a Job. */
export function jobFrom(
  id: bigint,
  [job, modelId, token]: ContractFunctionReturnType<typeof jobMarketplaceAbi, "view", "getJob">,
): Job {
  return { ...job, id, status: jobStatus(job.status), modelId, token };
}

/** Reads job `id` from the marketplace (a job that was never posted has status "None"). */
export async function readJob(client: ChainClient, marketplace: Address, id: bigint): Promise<Job> {
  const raw = await client.read(`getJob ${id}`, {
    address: marketplace,
    abi: jobMarketplaceAbi,
    functionName: "getJob",
    args: [id],
  });
  return jobFrom(id, raw);
}
