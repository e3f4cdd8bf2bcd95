/**
 * Job authorization: only the renter of a claimed job gets its answer. The renter signs
 * EIP-712 typed data naming the job, the host that claimed it and the hash of the exact
 * request; the host recovers the signer and checks it against the job's renter on chain,
 * and checks the request hash against the job's prompt hash. The domain binds the
 * signature to one chain and one JobMarketplace, the job id to one job, and the host
 * serves each job once, so a signature cannot be replayed elsewhere or twice.
 * The request hash it signs is protocol/hashing.ts's `requestHash`.
 */
import {
  type Address,
  type Hex,
  hashTypedData,
  type LocalAccount,
  recoverTypedDataAddress,
} from "viem";

export const JOB_AUTH_TYPES = {
  JobAuthorization: [
    { name: "jobId", type: "uint256" },
    { name: "host", type: "address" },
    { name: "requestHash", type: "bytes32" },
  ],
} as const;

export interface JobAuthDomain {
  chainId: number;
  /** The JobMarketplace (proxy) address. */
  marketplace: Address;
}

function domain(d: JobAuthDomain) {
  return {
    name: "Fabstir Job Authorization",
    version: "1",
    chainId: d.chainId,
    verifyingContract: d.marketplace,
  } as const;
}

export interface JobAuthMessage {
  jobId: bigint;
  host: Address;
  requestHash: Hex;
}

/** The renter's side: signs the authorization with its account. */
export function signJobAuthorization(
  account: LocalAccount,
  d: JobAuthDomain,
  message: JobAuthMessage,
): Promise<Hex> {
  return account.signTypedData({
    domain: domain(d),
    types: JOB_AUTH_TYPES,
    primaryType: "JobAuthorization",
    message,
  });
}

/** The host's side: the address that signed, or undefined for a malformed signature. */
export async function recoverJobAuthorizer(
  d: JobAuthDomain,
  message: JobAuthMessage,
  signature: Hex,
): Promise<Address | undefined> {
  try {
    return await recoverTypedDataAddress({
      domain: domain(d),
      types: JOB_AUTH_TYPES,
      primaryType: "JobAuthorization",
      message,
      signature,
    });
  } catch {
    return undefined;
  }
}

/** The EIP-712 digest, for logs and for wallets that sign digests. */
export function jobAuthorizationDigest(d: JobAuthDomain, message: JobAuthMessage): Hex {
  return hashTypedData({
    domain: domain(d),
    types: JOB_AUTH_TYPES,
    primaryType: "JobAuthorization",
    message,
  });
}
