/**
 * Sessions for the indexer and API test (indexer.test.ts), after its jobs: the same renter
 * and hosts, and session ids that collide with job ids (1, 2, 3), so that an escrow event of
 * a session must not touch the job with the same id.
 *   session 1  ETH with the cheap host: two checkpoints, then the host closes with a last receipt
 *   session 2  tUSD with the dear host and a delegated signer: topped up, one checkpoint, the
 *              renter asks to close, settled by anyone after the host's window
 *   session 3  ETH with the dear host, left open
 */
import assert from "node:assert/strict";
import { type Address, keccak256, stringToHex, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { sessionManagerAbi } from "../../abis/index.ts";
import type { LocalChain, Wallet } from "../../fixtures/local-chain.ts";
import {
  emptyReceipt,
  nextReceipt,
  type Receipt,
  receiptArg,
  type SessionTerms,
  sessionIdOf,
  signReceipt,
} from "../../protocol/sessions.ts";

/** The host's window after a close request: the Ignition module's default. */
export const CLOSE_WINDOW = 3_600;

export interface SessionScenario {
  /** Terms and latest receipt of each session, by id. */
  sessions: Map<bigint, { terms: SessionTerms; receipt: Receipt; deposit: bigint }>;
  /** The sessions' ids in the order they were opened. */
  ids: readonly [bigint, bigint, bigint];
  signer: Address;
}

export async function runSessionScenario(
  chain: LocalChain,
  actors: { renter: Wallet; cheap: Wallet; dear: Wallet; admin: Wallet },
  prices: { eth: { cheap: bigint; dear: bigint }; usd: bigint },
): Promise<SessionScenario> {
  const { SessionManager } = chain.addresses;
  const domain = { chainId: await chain.publicClient.getChainId(), sessions: SessionManager };
  const signer = privateKeyToAccount(keccak256(stringToHex("indexer-test-session-signer")));
  const sessions: SessionScenario["sessions"] = new Map();
  const send = async (hash: Promise<`0x${string}`>) => {
    const receipt = await chain.publicClient.waitForTransactionReceipt({ hash: await hash });
    assert.equal(receipt.status, "success");
    return receipt;
  };
  const now = (await chain.publicClient.getBlock()).timestamp;

  const open = async (
    host: Wallet,
    token: Address,
    price: bigint,
    deposit: bigint,
    by?: Address,
  ) => {
    const request = {
      host: host.account.address,
      modelId: stringToHex("llama-3.1-8b", { size: 32 }),
      token,
      signer: by ?? zeroAddress,
      maxPricePerToken: price,
      deposit,
      expiry: now + 86_400n,
      minScore: 0,
      salt: BigInt(sessions.size),
    };
    const hash = await send(
      actors.renter.writeContract({
        address: SessionManager,
        abi: sessionManagerAbi,
        functionName: "openSession",
        args: [request],
        value: token === zeroAddress ? deposit : 0n,
        chain: null,
      }),
    );
    const terms: SessionTerms = {
      renter: actors.renter.account.address,
      host: host.account.address,
      token,
      signer: request.signer,
      modelId: request.modelId,
      pricePerToken: price,
      expiry: request.expiry,
      feeDiscountBps: 0,
      salt: request.salt,
    };
    const id = sessionIdOf(terms);
    void hash;
    sessions.set(id, { terms, receipt: emptyReceipt(id), deposit });
    return id;
  };
  /** The renter (or its signer) signs for `tokens` more tokens; returns the call's receipt arguments. */
  const answer = async (id: bigint, tokens: number) => {
    const s = sessions.get(id);
    if (!s) throw new Error(`no session ${id}`);
    s.receipt = nextReceipt(
      s.receipt,
      {
        tokens,
        text: `answer ${s.receipt.tokens}`,
        request: keccak256(stringToHex(`request ${s.receipt.tokens}`)),
      },
      s.terms.pricePerToken,
    );
    const account = s.terms.signer === zeroAddress ? actors.renter.account : signer;
    const { signature } = await signReceipt(account, domain, s.receipt);
    return [s.terms, id, receiptArg(s.receipt), signature] as const;
  };
  const terms = (id: bigint) => sessions.get(id)?.terms as SessionTerms;
  const host = (id: bigint) =>
    terms(id).host === actors.cheap.account.address ? actors.cheap : actors.dear;
  const checkpoint = async (id: bigint, tokens: number) =>
    send(
      host(id).writeContract({
        address: SessionManager,
        abi: sessionManagerAbi,
        functionName: "checkpoint",
        args: await answer(id, tokens),
        chain: null,
      }),
    );

  const one = await open(actors.cheap, zeroAddress, prices.eth.cheap, 1_000n * prices.eth.cheap);
  await checkpoint(one, 100);
  await checkpoint(one, 200);
  await send(
    actors.cheap.writeContract({
      address: SessionManager,
      abi: sessionManagerAbi,
      functionName: "closeSession",
      args: await answer(one, 50),
      chain: null,
    }),
  );

  const two = await open(
    actors.dear,
    chain.stablecoin,
    prices.usd,
    500n * prices.usd,
    signer.address,
  );
  await send(
    actors.renter.writeContract({
      address: SessionManager,
      abi: sessionManagerAbi,
      functionName: "topUp",
      args: [terms(two), two, 250n * prices.usd],
      chain: null,
    }),
  );
  const s2 = sessions.get(two);
  if (s2) s2.deposit += 250n * prices.usd;
  await checkpoint(two, 600);
  await send(
    actors.renter.writeContract({
      address: SessionManager,
      abi: sessionManagerAbi,
      functionName: "requestClose",
      args: [terms(two), two],
      chain: null,
    }),
  );
  await chain.testClient.increaseTime({ seconds: CLOSE_WINDOW + 1 });
  await send(
    actors.admin.writeContract({
      address: SessionManager,
      abi: sessionManagerAbi,
      functionName: "settle",
      args: [terms(two), two],
      chain: null,
    }),
  );

  const three = await open(actors.dear, zeroAddress, prices.eth.dear, 10n * prices.eth.dear);
  // Ids are terms hashes: `ids` names the sessions in the order they were opened.
  return { sessions, ids: [one, two, three] as const, signer: signer.address };
}
