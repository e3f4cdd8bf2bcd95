/**
 * Job authorization: only the renter of a claimed job gets its answer. The renter signs
 * EIP-712 typed data naming the job, the host that claimed it and the hash of the exact
 * request; the host recovers the signer and checks it against the job's renter on chain,
 * and checks the request hash against the job's prompt hash. The domain binds the
 * signature to one chain and one JobMarketplace, the job id to one job, and the host
 * serves each job once, so a signature cannot be replayed elsewhere or twice.
 *
 * The request hash (what the renter posts as the job's `promptHash`) is keccak256 of a
 * canonical JSON form of the request: the chat messages or the raw prompt, and the
 * sampling parameters the renter set, keys sorted, nothing else.
 */
import {
  type Address,
  type Hex,
  hashTypedData,
  keccak256,
  type LocalAccount,
  recoverTypedDataAddress,
  stringToHex,
} from "viem";
import type { SamplingParams } from "../inference/types.ts";
import type { ServeRequest } from "../serving/types.ts";

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

const PARAM_KEYS: (keyof SamplingParams)[] = [
  "maxTokens",
  "seed",
  "stop",
  "temperature",
  "topK",
  "topP",
];

/** The canonical JSON text of a request: what its hash covers. */
export function canonicalRequest(request: Pick<ServeRequest, "messages" | "prompt" | "params">) {
  const params: Record<string, unknown> = {};
  for (const k of PARAM_KEYS) {
    const v = request.params?.[k];
    if (v !== undefined) params[k] = v;
  }
  const body =
    request.prompt !== undefined
      ? { params, prompt: request.prompt, v: 1 }
      : {
          messages: (request.messages ?? []).map((m) => ({ content: m.content, role: m.role })),
          params,
          v: 1,
        };
  return JSON.stringify(body);
}

/** keccak256 of the canonical request: the job's promptHash. */
export function requestHash(request: Pick<ServeRequest, "messages" | "prompt" | "params">): Hex {
  return keccak256(stringToHex(canonicalRequest(request)));
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
