/**
 * Sessions, as both ends of the wire see them (contracts/sessions/SessionManager.sol):
 * - the session's terms (fixed at opening; the session's id is their keccak256 and the contract
 *   stores nothing else of them, so every party passes them around and checks them against the
 *   id: `sessionIdOf`);
 * - the receipt the renter (or the signer it named for the session) signs after each answer:
 *   EIP-712, domain "Fabstir Sessions" v1 bound to the chain and the SessionManager, over the
 *   session id, the cumulative tokens and amount, and the running digest of the answers'
 *   output hashes: d0 = 0x0, d(n) = keccak256(abi.encode(d(n-1), outputHash(answer n)));
 * - how a request names its session and carries the receipt for the answers before it
 *   (HTTP headers, or the same fields in a libp2p request).
 */
import {
  type Address,
  encodeAbiParameters,
  type Hex,
  hashTypedData,
  keccak256,
  type LocalAccount,
  recoverTypedDataAddress,
  zeroHash,
} from "viem";
import { z } from "zod";
import { SESSION_STATUS, sessionManagerAbi } from "../abis/index.ts";
import type { ChainClient } from "./chain-client.ts";
import { outputHash } from "./hashing.ts";

export type SessionStatus = (typeof SESSION_STATUS)[number];

/** A session's fixed terms, as SessionOpened emits them and every call passes them back. */
export interface SessionTerms {
  renter: Address;
  host: Address;
  token: Address;
  /** A key the renter authorized to sign receipts (zero address: none). */
  signer: Address;
  modelId: Hex;
  pricePerToken: bigint;
  /** Unix seconds. */
  expiry: bigint;
  /** The host's discount on the treasury's fee share (basis points), fixed at opening. */
  feeDiscountBps: number;
  /** The renter's salt, which keeps the ids of otherwise equal sessions apart. */
  salt: bigint;
}

/** The terms a SessionOpened event carries (its arguments). */
export function termsOfOpened(a: {
  renter: Address;
  host: Address;
  token: Address;
  signer: Address;
  modelId: Hex;
  pricePerToken: bigint;
  expiry: bigint;
  feeDiscountBps: number;
  salt: bigint;
}): SessionTerms {
  return {
    renter: a.renter,
    host: a.host,
    token: a.token,
    signer: a.signer,
    modelId: a.modelId,
    pricePerToken: a.pricePerToken,
    expiry: a.expiry,
    feeDiscountBps: a.feeDiscountBps,
    salt: a.salt,
  };
}

/** A fresh random salt for a session request (64 bits: two sessions of one renter with
 * otherwise equal terms collide with odds of about 2^-64; the contract refuses a collision). */
export function randomSalt(): bigint {
  const b = new BigUint64Array(1);
  crypto.getRandomValues(b);
  return b[0] as bigint;
}

/** A session's changing state on chain (SessionManager.sessionState). */
export interface ChainSessionState {
  status: SessionStatus;
  deposit: bigint;
  paid: bigint;
  tokens: number;
  /** 0 while open; the end of the host's window once the renter asked to close. */
  closeAt: number;
}

export async function readSessionState(
  chain: Pick<ChainClient, "read">,
  sessions: Address,
  id: bigint,
): Promise<ChainSessionState> {
  const [status, s] = await chain.read(`sessionState ${id}`, {
    address: sessions,
    abi: sessionManagerAbi,
    functionName: "sessionState",
    args: [id],
  });
  return {
    status: SESSION_STATUS[status] ?? "None",
    deposit: s.deposit,
    paid: s.paid,
    tokens: s.tokens,
    closeAt: s.closeAt,
  };
}

/** What the renter signs: everything owed so far in the session. */
export interface Receipt {
  sessionId: bigint;
  /** Output tokens served so far (cumulative). */
  tokens: number;
  /** What they cost so far (cumulative, in the session's token). */
  amount: bigint;
  /** Running digest of the answers' output hashes. */
  digest: Hex;
}

export interface SignedReceipt extends Receipt {
  signature: Hex;
}

export const RECEIPT_TYPES = {
  Receipt: [
    { name: "sessionId", type: "uint256" },
    { name: "tokens", type: "uint32" },
    { name: "amount", type: "uint96" },
    { name: "digest", type: "bytes32" },
  ],
} as const;

/** The largest cumulative token count a receipt can carry (uint32). */
export const MAX_RECEIPT_TOKENS = 2 ** 32 - 1;

export interface SessionDomain {
  chainId: number;
  /** The SessionManager (proxy) address. */
  sessions: Address;
}

/** The EIP-712 domain of receipts for the SessionManager at `d.sessions` on `d.chainId`. */
export function sessionDomain(d: SessionDomain) {
  return {
    name: "Fabstir Sessions",
    version: "1",
    chainId: d.chainId,
    verifyingContract: d.sessions,
  } as const;
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
      { name: "feeDiscountBps", type: "uint16" },
      { name: "salt", type: "uint64" },
    ],
  },
] as const;

/** keccak256(abi.encode(terms)): the session's id as 32 bytes (SessionManager.termsHash). */
export function termsHash(terms: SessionTerms): Hex {
  return keccak256(encodeAbiParameters(TERMS_TUPLE, [terms]));
}

/** The id of the session opened with `terms`: their hash as a number. */
export function sessionIdOf(terms: SessionTerms): bigint {
  return BigInt(termsHash(terms));
}

/** The digest before any answer. */
export const EMPTY_DIGEST: Hex = zeroHash;

/**
 * The running digest after one more answer: d(n) = keccak256(abi.encode(d(n-1), requestHash(n),
 * outputHash(n))). Binding each answer to its request (protocol/hashing.ts requestHash of the
 * request the host served) means a receipt the host presents on chain commits both sides to
 * what was asked and what was answered: the evidence of an output challenge can be checked
 * against it, and a renter cannot pin an honest answer on another prompt (docs/trust.md).
 */
export function nextDigest(previous: Hex, request: Hex, text: string): Hex {
  return nextDigestOf(previous, request, outputHash(text));
}

/** nextDigest from the answer's output hash instead of its text. */
export function nextDigestOf(previous: Hex, request: Hex, output: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }],
      [previous, request, output],
    ),
  );
}

/** The receipt before any answer: nothing owed. */
export function emptyReceipt(sessionId: bigint): Receipt {
  return { sessionId, tokens: 0, amount: 0n, digest: EMPTY_DIGEST };
}

/**
 * The receipt after one more answer of `tokens` tokens and text `text`, asked by the request
 * whose requestHash is `request`, at `pricePerToken`.
 */
export function nextReceipt(
  previous: Receipt,
  answer: { tokens: number; text: string; request: Hex },
  pricePerToken: bigint,
): Receipt {
  return {
    sessionId: previous.sessionId,
    tokens: previous.tokens + answer.tokens,
    amount: previous.amount + BigInt(answer.tokens) * pricePerToken,
    digest: nextDigest(previous.digest, answer.request, answer.text),
  };
}

/** The renter's (or its session signer's) side. */
export async function signReceipt(
  account: LocalAccount,
  d: SessionDomain,
  receipt: Receipt,
): Promise<SignedReceipt> {
  const signature = await account.signTypedData({
    domain: sessionDomain(d),
    types: RECEIPT_TYPES,
    primaryType: "Receipt",
    message: receipt,
  });
  return { ...receipt, signature };
}

/** The address that signed `receipt`, or undefined for a malformed signature. */
export async function recoverReceiptSigner(
  d: SessionDomain,
  receipt: SignedReceipt,
): Promise<Address | undefined> {
  try {
    return await recoverTypedDataAddress({
      domain: sessionDomain(d),
      types: RECEIPT_TYPES,
      primaryType: "Receipt",
      message: receiptMessage(receipt),
      signature: receipt.signature,
    });
  } catch {
    return undefined;
  }
}

/** Whether the renter or the session's signer signed `receipt` (ECDSA keys). */
export async function signedByRenter(
  d: SessionDomain,
  terms: SessionTerms,
  receipt: SignedReceipt,
): Promise<boolean> {
  const signer = (await recoverReceiptSigner(d, receipt))?.toLowerCase();
  if (!signer) return false;
  return (
    signer === terms.renter.toLowerCase() ||
    (BigInt(terms.signer) !== 0n && signer === terms.signer.toLowerCase())
  );
}

/** The EIP-712 digest of a receipt (what SessionManager.receiptDigest returns). */
export function receiptDigest(d: SessionDomain, receipt: Receipt): Hex {
  return hashTypedData({
    domain: sessionDomain(d),
    types: RECEIPT_TYPES,
    primaryType: "Receipt",
    message: receiptMessage(receipt),
  });
}

function receiptMessage(r: Receipt) {
  return { sessionId: r.sessionId, tokens: r.tokens, amount: r.amount, digest: r.digest };
}

/** The receipt as SessionManager's functions take it (the signature separately). */
export function receiptArg(r: Receipt) {
  return receiptMessage(r);
}

// ---------------------------------------------------------------- on the wire

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "an address");
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, "32 bytes of hex");
const decimal = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, "a decimal integer");
/** A decimal that fits the contract's uint64 (price, expiry, salt). */
const uint64Decimal = decimal.refine((s) => BigInt(s) < 2n ** 64n, "at most 2^64 - 1");

/** Session terms in JSON (numbers as decimal strings). */
export const sessionTermsSchema = z.object({
  renter: address,
  host: address,
  token: address,
  signer: address,
  modelId: bytes32,
  pricePerToken: uint64Decimal,
  expiry: uint64Decimal,
  feeDiscountBps: z.number().int().min(0).max(10_000),
  salt: uint64Decimal,
});
export type SessionTermsWire = z.infer<typeof sessionTermsSchema>;

/** A signed receipt in JSON. */
export const signedReceiptSchema = z.object({
  sessionId: decimal,
  tokens: z.number().int().min(0).max(MAX_RECEIPT_TOKENS),
  amount: decimal,
  digest: bytes32,
  signature: z.string().regex(/^0x[0-9a-fA-F]{130,}$/, "a hex signature"),
});
export type SignedReceiptWire = z.infer<typeof signedReceiptSchema>;

/**
 * How a request names its session: the id, the terms (checked against the chain's hash; the
 * host caches them after the first request) and the signed receipt for every answer before
 * this one (absent on the session's first request).
 */
export const sessionAuthorizationSchema = z.object({
  sessionId: decimal,
  terms: sessionTermsSchema.optional(),
  receipt: signedReceiptSchema.optional(),
});
export type SessionAuthorization = z.infer<typeof sessionAuthorizationSchema>;

export function termsToWire(t: SessionTerms): SessionTermsWire {
  return {
    renter: t.renter,
    host: t.host,
    token: t.token,
    signer: t.signer,
    modelId: t.modelId,
    pricePerToken: t.pricePerToken.toString(),
    expiry: t.expiry.toString(),
    feeDiscountBps: t.feeDiscountBps,
    salt: t.salt.toString(),
  };
}

export function termsFromWire(t: SessionTermsWire): SessionTerms {
  return {
    renter: t.renter as Address,
    host: t.host as Address,
    token: t.token as Address,
    signer: t.signer as Address,
    modelId: t.modelId as Hex,
    pricePerToken: BigInt(t.pricePerToken),
    expiry: BigInt(t.expiry),
    feeDiscountBps: t.feeDiscountBps,
    salt: BigInt(t.salt),
  };
}

export function receiptToWire(r: SignedReceipt): SignedReceiptWire {
  return {
    sessionId: r.sessionId.toString(),
    tokens: r.tokens,
    amount: r.amount.toString(),
    digest: r.digest,
    signature: r.signature,
  };
}

export function receiptFromWire(r: SignedReceiptWire): SignedReceipt {
  return {
    sessionId: BigInt(r.sessionId),
    tokens: r.tokens,
    amount: BigInt(r.amount),
    digest: r.digest as Hex,
    signature: r.signature as Hex,
  };
}

/** HTTP: the session rides in three headers, each a compact JSON or decimal text. */
export const SESSION_HEADERS = {
  /** The session id (decimal). */
  id: "x-fabstir-session",
  /** The session's terms (JSON of SessionTermsWire). */
  terms: "x-fabstir-session-terms",
  /** The signed receipt for every answer before this request (JSON of SignedReceiptWire). */
  receipt: "x-fabstir-session-receipt",
} as const;

/** The headers a renter sends for `auth`. */
export function sessionHeaders(auth: SessionAuthorization): Record<string, string> {
  const headers: Record<string, string> = { [SESSION_HEADERS.id]: auth.sessionId };
  if (auth.terms) headers[SESSION_HEADERS.terms] = JSON.stringify(auth.terms);
  if (auth.receipt) headers[SESSION_HEADERS.receipt] = JSON.stringify(auth.receipt);
  return headers;
}

/**
 * The session a request's headers name, or undefined when it names none. Throws a ZodError
 * (or SyntaxError) for malformed values: the caller answers 400.
 */
export function sessionFromHeaders(
  get: (name: string) => string | undefined | null,
): SessionAuthorization | undefined {
  const id = get(SESSION_HEADERS.id);
  if (!id) return undefined;
  const terms = get(SESSION_HEADERS.terms);
  const receipt = get(SESSION_HEADERS.receipt);
  return sessionAuthorizationSchema.parse({
    sessionId: id,
    terms: terms ? JSON.parse(terms) : undefined,
    receipt: receipt ? JSON.parse(receipt) : undefined,
  });
}
