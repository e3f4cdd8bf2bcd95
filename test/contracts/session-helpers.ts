/**
 * What the SessionManager tests and the gas report share: the deployed SessionManager, session
 * requests and terms, and EIP-712 receipts signed as a renter's wallet signs them. No tests here
 * (Hardhat's runner loads this file and finds none).
 */
import type { ContractReturnType } from "@nomicfoundation/hardhat-viem/types";
import type { NetworkConnection } from "hardhat/types/network";
import {
  type Address,
  encodeAbiParameters,
  getAddress,
  type Hex,
  keccak256,
  parseEventLogs,
  zeroAddress,
  zeroHash,
} from "viem";
import { DAY, deploySystem, ETH, MODEL, type System } from "../../fixtures/system.ts";

/** ISessionManager.SessionStatus */
export const SessionStatus = { None: 0, Open: 1, Closing: 2, Settled: 3 } as const;
/** ISessionManager.CloseReason */
export const CloseReason = { Host: 0, Renter: 1, Expired: 2 } as const;

/** The EIP-712 type of a receipt (primary type "Receipt"). */
export const RECEIPT_TYPES = {
  Receipt: [
    { name: "sessionId", type: "uint256" },
    { name: "tokens", type: "uint32" },
    { name: "amount", type: "uint96" },
    { name: "digest", type: "bytes32" },
  ],
} as const;

export type SessionManager = ContractReturnType<"SessionManager">;
export type Wallet = System["renter"];

export interface SessionRequest {
  host: Address;
  modelId: Hex;
  token: Address;
  signer: Address;
  maxPricePerToken: bigint;
  deposit: bigint;
  expiry: bigint;
}

/** A session's fixed terms (ISessionManager.Session), passed back to every call on it. */
export interface SessionTerms {
  renter: Address;
  host: Address;
  token: Address;
  signer: Address;
  modelId: Hex;
  pricePerToken: bigint;
  expiry: bigint;
}

export interface Receipt {
  sessionId: bigint;
  tokens: number;
  amount: bigint;
  digest: Hex;
}

const TERMS_TUPLE = [
  {
    type: "tuple",
    components: [
      { name: "renter", type: "address" },
      { name: "host", type: "address" },
      { name: "token", type: "address" },
      { name: "signer", type: "address" },
      { name: "modelId", type: "bytes32" },
      { name: "pricePerToken", type: "uint64" },
      { name: "expiry", type: "uint64" },
    ],
  },
] as const;

/** keccak256(abi.encode(terms)): what SessionManager.termsHash holds for a session. */
export function hashTerms(terms: SessionTerms): Hex {
  return keccak256(encodeAbiParameters(TERMS_TUPLE, [terms]));
}

/** The running digest of a session's answers: d(n) = keccak256(abi.encode(d(n-1), outputHash(n))). */
export function nextDigest(previous: Hex, outputHash: Hex): Hex {
  return keccak256(
    encodeAbiParameters([{ type: "bytes32" }, { type: "bytes32" }], [previous, outputHash]),
  );
}

/**
 * The SessionManager proxy of a system deployed by `deploySystem` (which does not return it):
 * the locker the Ignition module allowed on the escrow after the marketplace.
 */
export async function sessionManagerOf(
  connection: NetworkConnection,
  sys: System,
): Promise<SessionManager> {
  const logs = await sys.escrow.getEvents.LockerUpdated({}, { fromBlock: 0n });
  const marketplace = getAddress(sys.marketplace.address);
  const locker = logs
    .map((l) => l.args)
    .filter((a) => a.allowed === true && a.locker && getAddress(a.locker) !== marketplace)
    .at(-1)?.locker;
  if (!locker) throw new Error("no SessionManager allowed as a locker on the escrow");
  const sessions = await connection.viem.getContractAt("SessionManager", locker);
  if (getAddress(await sessions.read.escrow()) !== getAddress(sys.escrow.address)) {
    throw new Error(`locker ${locker} is not the system's SessionManager`);
  }
  return sessions;
}

/** The whole system plus its SessionManager. */
export async function deploySessionSystem(connection: NetworkConnection) {
  const sys = await deploySystem(connection);
  return { ...sys, sessions: await sessionManagerOf(connection, sys) };
}

export type SessionSystem = Awaited<ReturnType<typeof deploySessionSystem>>;

/** A request with sane defaults: the first host, MODEL for ETH, no signer, one day. */
export async function sessionRequest(
  sys: System,
  overrides: Partial<SessionRequest> = {},
): Promise<SessionRequest> {
  const block = await sys.publicClient.getBlock();
  return {
    host: sys.host.account.address,
    modelId: MODEL,
    token: ETH,
    signer: zeroAddress,
    maxPricePerToken: 10n ** 13n,
    deposit: 10n ** 15n,
    expiry: block.timestamp + DAY,
    ...overrides,
  };
}

/**
 * Opens a session from `renter` (an ETH deposit is sent as value; an ERC-20 one must be
 * approved) and returns its id, its terms as SessionOpened gives them, and the transaction.
 */
export async function openSession(
  sys: SessionSystem,
  request: SessionRequest,
  renter: Wallet = sys.renter,
): Promise<{ sessionId: bigint; terms: SessionTerms; hash: Hex }> {
  const hash = await sys.sessions.write.openSession([request], {
    account: renter.account,
    value: request.token === ETH ? request.deposit : 0n,
  });
  return { ...(await openedIn(sys, hash)), hash };
}

/** The id and terms of the session a transaction opened (from its SessionOpened event). */
export async function openedIn(
  sys: SessionSystem,
  hash: Hex,
): Promise<{ sessionId: bigint; terms: SessionTerms }> {
  const receipt = await sys.publicClient.waitForTransactionReceipt({ hash });
  const [opened] = parseEventLogs({
    abi: sys.sessions.abi,
    eventName: "SessionOpened",
    logs: receipt.logs,
  });
  if (!opened) throw new Error(`no SessionOpened in ${hash}`);
  const a = opened.args;
  return {
    sessionId: a.sessionId,
    terms: {
      renter: a.renter,
      host: a.host,
      token: a.token,
      signer: a.signer,
      modelId: a.modelId,
      pricePerToken: a.pricePerToken,
      expiry: a.expiry,
    },
  };
}

/** A receipt for `tokens` at the session's price (or `amount`), with a digest of the count. */
export function receiptFor(
  sessionId: bigint,
  terms: Pick<SessionTerms, "pricePerToken">,
  tokens: number,
  amount: bigint = BigInt(tokens) * terms.pricePerToken,
): Receipt {
  const digest =
    tokens === 0
      ? zeroHash
      : keccak256(encodeAbiParameters([{ type: "uint256" }], [BigInt(tokens)]));
  return { sessionId, tokens, amount, digest };
}

/**
 * `signer`'s EIP-712 signature of `receipt` for the SessionManager at `verifyingContract` on
 * `chainId` (both default to the real ones; tests change them to forge wrong domains).
 */
export async function signReceipt(
  signer: Wallet,
  verifyingContract: Address,
  receipt: Receipt,
  domain: { chainId?: number; verifyingContract?: Address; name?: string } = {},
): Promise<Hex> {
  return signer.signTypedData({
    account: signer.account,
    domain: {
      name: domain.name ?? "Fabstir Sessions",
      version: "1",
      chainId: domain.chainId ?? (await signer.getChainId()),
      verifyingContract: domain.verifyingContract ?? verifyingContract,
    },
    types: RECEIPT_TYPES,
    primaryType: "Receipt",
    message: receipt,
  });
}
