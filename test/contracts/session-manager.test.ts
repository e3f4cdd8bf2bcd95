import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { network } from "hardhat";
import {
  encodeFunctionData,
  getAddress,
  hashTypedData,
  keccak256,
  numberToHex,
  parseEther,
  stringToHex,
  zeroAddress,
  zeroHash,
} from "viem";
import {
  CloseReason,
  openedIn,
  openSession,
  receiptFor,
  type SessionRequest,
  SessionStatus,
  sessionRequest,
  signReceipt,
  type Wallet,
} from "../../fixtures/sessions.ts";
import {
  deploySystem,
  ETH,
  MODEL,
  OTHER_MODEL,
  offerKey,
  registration,
  type System,
  signPermit,
} from "../../fixtures/system.ts";
import {
  EMPTY_DIGEST,
  nextDigest,
  RECEIPT_TYPES,
  type Receipt,
  randomSalt,
  type SessionTerms,
  sessionIdOf,
  termsHash,
} from "../../protocol/sessions.ts";

const HOST_PRICE = parseEther("0.000001");
const USD_PRICE = 2n;
const DEPOSIT = 1_000n * HOST_PRICE;
const WINDOW = 3_600n;
const UPGRADER_ROLE = keccak256(stringToHex("UPGRADER_ROLE"));

const connection = await network.create();
const { viem, networkHelpers } = connection;
const { time } = networkHelpers;
const a = viem.assertions;

/** The system with one registered host selling MODEL for ETH and tUSD, and a gateway key. */
async function withHost() {
  const sys = await deploySystem(connection);
  const offers = [
    { modelId: MODEL, token: ETH, pricePerToken: HOST_PRICE },
    { modelId: MODEL, token: sys.usd.address, pricePerToken: USD_PRICE },
  ];
  await sys.registry.write.register([registration({ offers })], { account: sys.host.account });
  const gateway = (await viem.getWalletClients())[5];
  if (!gateway) throw new Error("need 6 accounts");
  return { ...sys, gateway };
}

let sys: System & { gateway: Wallet };
beforeEach(async () => {
  sys = await networkHelpers.loadFixture(withHost);
});

interface Opened {
  sessionId: bigint;
  terms: SessionTerms;
  request: SessionRequest;
}

function request(overrides: Partial<SessionRequest> = {}) {
  return sessionRequest(sys, { maxPricePerToken: 2n * HOST_PRICE, deposit: DEPOSIT, ...overrides });
}

/** Opens an ETH session (or a tUSD one with `token`), 1000 tokens' worth at the host's price. */
async function open(
  overrides: Partial<SessionRequest> = {},
  renter: Wallet = sys.renter,
): Promise<Opened> {
  const usd = overrides.token !== undefined && overrides.token !== ETH;
  const r = await request(
    usd ? { maxPricePerToken: USD_PRICE, deposit: 1_000n * USD_PRICE, ...overrides } : overrides,
  );
  const { sessionId, terms } = await openSession(sys, r, renter);
  return { sessionId, terms, request: r };
}

function sign(signer: Wallet, receipt: Receipt, domain = {}) {
  return signReceipt(signer, sys.sessions.address, receipt, domain);
}

async function checkpoint(s: Opened, tokens: number, amount?: bigint, signer = sys.renter) {
  const receipt = receiptFor(s.sessionId, s.terms, tokens, amount);
  return sys.sessions.write.checkpoint(
    [s.terms, s.sessionId, receipt, await sign(signer, receipt)],
    { account: sys.host.account },
  );
}

async function state(id: bigint) {
  const [status, st] = await sys.sessions.read.sessionState([id]);
  return { status, ...st };
}

/**
 * The 85/10/5 split of `payment` as the escrow computes it (dust to the stakers), with the
 * host's `discountBps` of the treasury's share waived to the host.
 */
function split(payment: bigint, discountBps = 0n) {
  const treasuryShare = (payment * 1_000n) / 10_000n;
  const waived = (treasuryShare * discountBps) / 10_000n;
  const host = (payment * 8_500n) / 10_000n + waived;
  const treasury = treasuryShare - waived;
  return { host, treasury, stakers: payment - host - treasury };
}

/** PaymentReleased's arguments for an ETH payment of session `sessionId` split into `shares`,
 * with the rest of the deposit (`refund`) credited to `renter` when the lock closes. */
function released(
  sessionId: bigint,
  shares: ReturnType<typeof split>,
  renter: `0x${string}` = zeroAddress,
  refund = 0n,
): [
  bigint,
  `0x${string}`,
  `0x${string}`,
  `0x${string}`,
  `0x${string}`,
  bigint,
  bigint,
  bigint,
  bigint,
] {
  return [
    sessionId,
    addr(sys.host),
    ETH,
    getAddress(sys.sessions.address),
    renter,
    shares.host,
    shares.treasury,
    shares.stakers,
    refund,
  ];
}

/**
 * The terms (and so the id) a session opened by `renter` with request `r` gets at the host's
 * ETH price and `feeDiscountBps` (the host's discount at opening).
 */
function termsOf(r: SessionRequest, renter: Wallet = sys.renter, feeDiscountBps = 0): SessionTerms {
  return {
    renter: addr(renter),
    host: getAddress(r.host),
    token: getAddress(r.token),
    signer: getAddress(r.signer),
    modelId: r.modelId,
    pricePerToken: HOST_PRICE,
    expiry: r.expiry,
    feeDiscountBps,
    salt: r.salt,
  };
}

const addr = (w: Wallet) => getAddress(w.account.address);

describe("SessionManager", () => {
  describe("openSession", () => {
    it("opens an ETH session at the host's price and locks the deposit under the SessionManager", async () => {
      const r = await request();
      // The id is the hash of the terms, known before the transaction.
      const id = sessionIdOf(termsOf(r));
      assert.equal((await state(id)).status, SessionStatus.None);
      assert.equal(await sys.sessions.read.termsHash([id]), zeroHash);
      const hash = sys.sessions.write.openSession([r], {
        account: sys.renter.account,
        value: DEPOSIT,
      });
      await a.emitWithArgs(hash, sys.sessions, "SessionOpened", [
        id,
        addr(sys.renter),
        addr(sys.host),
        MODEL,
        ETH,
        zeroAddress,
        HOST_PRICE,
        DEPOSIT,
        r.expiry,
        0,
        r.salt,
      ]);
      await a.emitWithArgs(hash, sys.escrow, "FundsLocked", [
        id,
        addr(sys.renter),
        ETH,
        getAddress(sys.sessions.address),
        DEPOSIT,
      ]);
      const { sessionId, terms } = await openedIn(sys, await hash);
      assert.equal(sessionId, id);
      assert.equal(terms.pricePerToken, HOST_PRICE, "the host's price, not the renter's maximum");
      assert.deepEqual(terms, termsOf(r));
      assert.equal(await sys.sessions.read.termsHash([id]), termsHash(terms));
      assert.equal(await sys.sessions.read.hashTerms([terms]), termsHash(terms));
      assert.deepEqual(await state(id), {
        status: SessionStatus.Open,
        deposit: DEPOSIT,
        paid: 0n,
        tokens: 0,
        closeAt: 0,
      });
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, id]), [ETH, DEPOSIT]);
      assert.equal(await sys.publicClient.getBalance({ address: sys.escrow.address }), DEPOSIT);
    });

    it("ids a session by the hash of its terms: sessionIdOf(terms) = hashTerms(terms) = termsHash(id)", async () => {
      const s = await open({ signer: sys.gateway.account.address });
      assert.equal(s.sessionId, sessionIdOf(s.terms));
      assert.equal(numberToHex(s.sessionId, { size: 32 }), termsHash(s.terms));
      assert.equal(await sys.sessions.read.hashTerms([s.terms]), termsHash(s.terms));
      assert.equal(await sys.sessions.read.termsHash([s.sessionId]), termsHash(s.terms));
      assert.equal(s.terms.salt, s.request.salt);
      assert.equal(s.terms.feeDiscountBps, 0);
      // ERC-20 sessions and sessions of other renters alike.
      const u = await open({ token: sys.usd.address });
      assert.equal(u.sessionId, sessionIdOf(u.terms));
      assert.equal(await sys.sessions.read.hashTerms([u.terms]), termsHash(u.terms));
      const o = await open({ salt: s.request.salt }, sys.other);
      assert.equal(o.sessionId, sessionIdOf(o.terms));
      assert.notEqual(o.sessionId, s.sessionId);
      // Every field of the terms is in the id.
      const changed: SessionTerms[] = [
        { ...s.terms, renter: addr(sys.other) },
        { ...s.terms, host: addr(sys.host2) },
        { ...s.terms, token: getAddress(sys.usd.address) },
        { ...s.terms, signer: zeroAddress },
        { ...s.terms, modelId: OTHER_MODEL },
        { ...s.terms, pricePerToken: s.terms.pricePerToken + 1n },
        { ...s.terms, expiry: s.terms.expiry + 1n },
        { ...s.terms, feeDiscountBps: 1 },
        { ...s.terms, salt: s.terms.salt ^ 1n },
      ];
      const ids = new Set(changed.map((t) => sessionIdOf(t)));
      assert.equal(ids.size, changed.length);
      assert.ok(!ids.has(s.sessionId));
      for (const t of changed) {
        assert.equal(await sys.sessions.read.hashTerms([t]), termsHash(t));
      }
    });

    it("refuses terms equal to an existing session's (SessionExists); another salt opens another session", async () => {
      const r = await request();
      const first = await openSession(sys, r);
      const again = () =>
        sys.sessions.write.openSession([r], { account: sys.renter.account, value: DEPOSIT });
      await a.revertWithCustomErrorWithArgs(again(), sys.sessions, "SessionManagerSessionExists", [
        first.sessionId,
      ]);
      // Nothing moved: the session and its lock are as opened.
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, first.sessionId]), [
        ETH,
        DEPOSIT,
      ]);
      assert.equal(await sys.publicClient.getBalance({ address: sys.escrow.address }), DEPOSIT);
      // The renter's minimum score and deposit are not terms: the same terms are still refused.
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.openSession([{ ...r, deposit: 2n * DEPOSIT, minScore: 1 }], {
          account: sys.renter.account,
          value: 2n * DEPOSIT,
        }),
        sys.sessions,
        "SessionManagerSessionExists",
        [first.sessionId],
      );
      // Another salt: a second session of otherwise equal terms, with its own id and lock.
      const second = await openSession(sys, { ...r, salt: r.salt ^ 1n });
      assert.notEqual(second.sessionId, first.sessionId);
      assert.deepEqual(second.terms, { ...first.terms, salt: r.salt ^ 1n });
      assert.equal(second.sessionId, sessionIdOf(second.terms));
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, second.sessionId]), [
        ETH,
        DEPOSIT,
      ]);
      // Another renter with the same request (and salt) has other terms, so another id.
      const other = await openSession(sys, r, sys.other);
      assert.notEqual(other.sessionId, first.sessionId);
      // An id is never reused, not even once its session is settled.
      await sys.sessions.write.closeSession(
        [first.terms, first.sessionId, receiptFor(0n, first.terms, 0), "0x"],
        { account: sys.host.account },
      );
      assert.equal((await state(first.sessionId)).status, SessionStatus.Settled);
      await a.revertWithCustomErrorWithArgs(again(), sys.sessions, "SessionManagerSessionExists", [
        first.sessionId,
      ]);
      assert.equal(await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]), DEPOSIT);
    });

    it("opens an ERC-20 session, taking the deposit from the renter", async () => {
      const before = await sys.usd.read.balanceOf([sys.renter.account.address]);
      const s = await open({ token: sys.usd.address });
      assert.equal(s.terms.pricePerToken, USD_PRICE);
      assert.equal(
        await sys.usd.read.balanceOf([sys.renter.account.address]),
        before - 1_000n * USD_PRICE,
      );
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, s.sessionId]), [
        getAddress(sys.usd.address),
        1_000n * USD_PRICE,
      ]);
      // An ERC-20 session takes no ETH.
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.openSession([{ ...s.request, salt: randomSalt() }], {
          account: sys.renter.account,
          value: 1n,
        }),
        sys.escrow,
        "PaymentEscrowValueMismatch",
        [0n, 1n],
      );
    });

    it("takes an EIP-2612 permit instead of an approval (tUSD supports permit)", async () => {
      const { other } = sys;
      await sys.usd.write.mint([other.account.address, 10_000n]);
      const r = await request({
        token: sys.usd.address,
        maxPricePerToken: USD_PRICE,
        deposit: 500n,
      });
      const p = await signPermit(sys.usd, other, sys.escrow.address, 500n, r.expiry);
      const hash = await sys.sessions.write.openSessionWithPermit([r, r.expiry, p.v, p.r, p.s], {
        account: other.account,
      });
      const { sessionId, terms } = await openedIn(sys, hash);
      assert.equal(terms.renter, addr(other));
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, sessionId]), [
        getAddress(sys.usd.address),
        500n,
      ]);
      // ETH needs no permit.
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.openSessionWithPermit([{ ...r, token: ETH }, r.expiry, p.v, p.r, p.s], {
          account: other.account,
        }),
        sys.sessions,
        "SessionManagerInvalidRequest",
        ["token"],
      );
      // A used (e.g. front-run) permit is ignored; without allowance the escrow's pull fails.
      await a.revertWithCustomError(
        sys.sessions.write.openSessionWithPermit(
          [{ ...r, salt: r.salt ^ 1n }, r.expiry, p.v, p.r, p.s],
          {
            account: other.account,
          },
        ),
        sys.usd,
        "ERC20InsufficientAllowance",
      );
    });

    it("refuses a maximum price below the host's (PriceTooHigh)", async () => {
      const r = await request({ maxPricePerToken: HOST_PRICE - 1n });
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.openSession([r], { account: sys.renter.account, value: DEPOSIT }),
        sys.sessions,
        "SessionManagerPriceTooHigh",
        [HOST_PRICE, HOST_PRICE - 1n],
      );
      // At exactly the host's price it opens.
      await openSession(sys, { ...r, maxPricePerToken: HOST_PRICE });
    });

    it("refuses a host below the renter's minimum score (a new host scores 500)", async () => {
      const strict = await request({ minScore: 501 });
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.openSession([strict], { account: sys.renter.account, value: DEPOSIT }),
        sys.sessions,
        "SessionManagerScoreTooLow",
        [getAddress(sys.host.account.address), 500, 501],
      );
      const id = sessionIdOf(termsOf(strict));
      assert.equal((await state(id)).status, SessionStatus.None);
      // A minimum the host meets opens (the minimum is not a term: the same id).
      const opened = await openSession(sys, { ...strict, minScore: 500 });
      assert.equal(opened.sessionId, id);
    });

    it("refuses invalid requests: model, host, expiry, deposit, value", async () => {
      const now = BigInt(await time.latest());
      const cases: [Partial<SessionRequest>, string][] = [
        [{ modelId: zeroHash }, "modelId"],
        [{ host: zeroAddress }, "host"],
        [{ host: sys.renter.account.address }, "host"],
        [{ expiry: now }, "expiry"],
        // A day past the longest session: blocks after a fixture revert may be minutes later than `now`.
        [{ expiry: now + 31n * 86_400n }, "expiry"],
        [{ deposit: HOST_PRICE - 1n }, "deposit"],
      ];
      for (const [overrides, field] of cases) {
        const r = await request(overrides);
        await a.revertWithCustomErrorWithArgs(
          sys.sessions.write.openSession([r], { account: sys.renter.account, value: r.deposit }),
          sys.sessions,
          "SessionManagerInvalidRequest",
          [field],
        );
      }
      const r = await request();
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.openSession([r], { account: sys.renter.account, value: DEPOSIT - 1n }),
        sys.escrow,
        "PaymentEscrowValueMismatch",
        [DEPOSIT, DEPOSIT - 1n],
      );
      assert.equal((await state(sessionIdOf(termsOf(r)))).status, SessionStatus.None);
      assert.equal(await sys.publicClient.getBalance({ address: sys.escrow.address }), 0n);
    });

    it("refuses a host that is not registered or does not offer the model for the token", async () => {
      const unregistered = await request({ host: sys.host2.account.address });
      await a.revertWithCustomError(
        sys.sessions.write.openSession([unregistered], {
          account: sys.renter.account,
          value: DEPOSIT,
        }),
        sys.registry,
        "NodeRegistryHostNotActive",
      );
      const otherModel = await request({ modelId: OTHER_MODEL });
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.openSession([otherModel], {
          account: sys.renter.account,
          value: DEPOSIT,
        }),
        sys.registry,
        "NodeRegistryModelNotOffered",
        [addr(sys.host), offerKey(OTHER_MODEL, ETH)],
      );
    });

    it("opens nothing while paused; checkpoints, closes and settlements go on", async () => {
      const s = await open();
      const closing = await open();
      await sys.sessions.write.requestClose([closing.terms, closing.sessionId], {
        account: sys.renter.account,
      });
      await a.emitWithArgs(sys.sessions.write.pause(), sys.sessions, "SessionsPaused", [
        addr(sys.admin),
      ]);
      assert.equal(await sys.sessions.read.paused(), true);
      const r = await request();
      await a.revertWithCustomError(
        sys.sessions.write.openSession([r], { account: sys.renter.account, value: DEPOSIT }),
        sys.sessions,
        "SessionManagerPaused",
      );
      await a.revertWithCustomError(
        sys.sessions.write.openSessionWithPermit(
          [{ ...r, token: sys.usd.address }, 0n, 27, zeroHash, zeroHash],
          { account: sys.renter.account },
        ),
        sys.sessions,
        "SessionManagerPaused",
      );
      await a.revertWithCustomError(
        sys.sessions.write.topUp([s.terms, s.sessionId, 1n], {
          account: sys.renter.account,
          value: 1n,
        }),
        sys.sessions,
        "SessionManagerPaused",
      );
      await checkpoint(s, 10);
      await time.increase(WINDOW);
      await sys.sessions.write.settle([closing.terms, closing.sessionId]);
      await sys.sessions.write.requestClose([s.terms, s.sessionId], {
        account: sys.renter.account,
      });
      await sys.sessions.write.closeSession(
        [s.terms, s.sessionId, receiptFor(0n, s.terms, 0), "0x"],
        {
          account: sys.host.account,
        },
      );
      assert.equal((await state(s.sessionId)).status, SessionStatus.Settled);
      await a.emitWithArgs(sys.sessions.write.unpause(), sys.sessions, "SessionsUnpaused", [
        addr(sys.admin),
      ]);
      await openSession(sys, r);
      // Pausing is the pauser's (the guardian's); unpausing the admin's (governance's).
      const pauser = await sys.sessions.read.PAUSER_ROLE();
      const admin = await sys.sessions.read.DEFAULT_ADMIN_ROLE();
      for (const [write, role] of [
        [sys.sessions.write.pause, pauser],
        [sys.sessions.write.unpause, admin],
      ] as const) {
        await a.revertWithCustomErrorWithArgs(
          write({ account: sys.other.account }),
          sys.sessions,
          "AccessControlUnauthorizedAccount",
          [addr(sys.other), role],
        );
      }
    });
  });

  describe("topUp", () => {
    it("adds to the deposit and to the escrow lock (ETH and ERC-20)", async () => {
      const s = await open();
      const tx = sys.sessions.write.topUp([s.terms, s.sessionId, 500n], {
        account: sys.renter.account,
        value: 500n,
      });
      await a.emitWithArgs(tx, sys.sessions, "SessionToppedUp", [
        s.sessionId,
        500n,
        DEPOSIT + 500n,
      ]);
      await a.emitWithArgs(tx, sys.escrow, "FundsLocked", [
        s.sessionId,
        addr(sys.renter),
        ETH,
        getAddress(sys.sessions.address),
        500n,
      ]);
      assert.equal((await state(s.sessionId)).deposit, DEPOSIT + 500n);
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, s.sessionId]), [
        ETH,
        DEPOSIT + 500n,
      ]);
      const u = await open({ token: sys.usd.address });
      await sys.sessions.write.topUp([u.terms, u.sessionId, 300n], { account: sys.renter.account });
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, u.sessionId]), [
        getAddress(sys.usd.address),
        2_300n,
      ]);
    });

    it("tops up an ERC-20 session with a permit", async () => {
      const { other } = sys;
      await sys.usd.write.mint([other.account.address, 10_000n]);
      await sys.usd.write.approve([sys.escrow.address, 2_000n], { account: other.account });
      const u = await open({ token: sys.usd.address }, other);
      const deadline = u.terms.expiry;
      const p = await signPermit(sys.usd, other, sys.escrow.address, 700n, deadline);
      await a.emitWithArgs(
        sys.sessions.write.topUpWithPermit([u.terms, u.sessionId, 700n, deadline, p.v, p.r, p.s], {
          account: other.account,
        }),
        sys.sessions,
        "SessionToppedUp",
        [u.sessionId, 700n, 2_700n],
      );
      const s = await open();
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.topUpWithPermit([s.terms, s.sessionId, 1n, deadline, p.v, p.r, p.s], {
          account: sys.renter.account,
        }),
        sys.sessions,
        "SessionManagerInvalidRequest",
        ["token"],
      );
    });

    it("locks again after receipts spent the whole deposit", async () => {
      const s = await open();
      await checkpoint(s, 1_000, DEPOSIT);
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, s.sessionId]), [
        ETH,
        0n,
      ]);
      const more = 300n * HOST_PRICE;
      const tx = sys.sessions.write.topUp([s.terms, s.sessionId, more], {
        account: sys.renter.account,
        value: more,
      });
      await a.emitWithArgs(tx, sys.escrow, "FundsLocked", [
        s.sessionId,
        addr(sys.renter),
        ETH,
        getAddress(sys.sessions.address),
        more,
      ]);
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, s.sessionId]), [
        ETH,
        more,
      ]);
      await checkpoint(s, 1_100);
      const st = await state(s.sessionId);
      assert.deepEqual([st.deposit, st.paid], [DEPOSIT + more, 1_100n * HOST_PRICE]);
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, s.sessionId]), [
        ETH,
        200n * HOST_PRICE,
      ]);
      await sys.sessions.write.closeSession(
        [s.terms, s.sessionId, receiptFor(0n, s.terms, 0), "0x"],
        {
          account: sys.host.account,
        },
      );
      assert.equal(
        await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
        200n * HOST_PRICE,
      );
    });

    it("refuses another caller, zero, an expired, closing or settled session and a deposit above uint96", async () => {
      const s = await open();
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.topUp([s.terms, s.sessionId, 1n], {
          account: sys.other.account,
          value: 1n,
        }),
        sys.sessions,
        "SessionManagerNotRenter",
        [s.sessionId, addr(sys.other)],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.topUp([s.terms, s.sessionId, 0n], { account: sys.renter.account }),
        sys.sessions,
        "SessionManagerInvalidRequest",
        ["amount"],
      );
      const u = await open({ token: sys.usd.address });
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.topUp([u.terms, u.sessionId, 2n ** 96n - 1n], {
          account: sys.renter.account,
        }),
        sys.sessions,
        "SessionManagerInvalidRequest",
        ["amount"],
      );
      await time.increaseTo(s.terms.expiry + 1n);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.topUp([s.terms, s.sessionId, 1n], {
          account: sys.renter.account,
          value: 1n,
        }),
        sys.sessions,
        "SessionManagerExpired",
        [s.sessionId, s.terms.expiry],
      );
      const c = await open();
      await sys.sessions.write.requestClose([c.terms, c.sessionId], {
        account: sys.renter.account,
      });
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.topUp([c.terms, c.sessionId, 1n], {
          account: sys.renter.account,
          value: 1n,
        }),
        sys.sessions,
        "SessionManagerInvalidState",
        [c.sessionId, SessionStatus.Closing],
      );
      await sys.sessions.write.closeSession(
        [c.terms, c.sessionId, receiptFor(0n, c.terms, 0), "0x"],
        {
          account: sys.host.account,
        },
      );
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.topUp([c.terms, c.sessionId, 1n], {
          account: sys.renter.account,
          value: 1n,
        }),
        sys.sessions,
        "SessionManagerInvalidState",
        [c.sessionId, SessionStatus.Settled],
      );
    });
  });

  describe("checkpoint", () => {
    it("pays the host the increment of a renter-signed receipt through the escrow, keeping the session open", async () => {
      const s = await open();
      const first = receiptFor(s.sessionId, s.terms, 100);
      first.digest = nextDigest(EMPTY_DIGEST, keccak256(stringToHex("request 1")), "answer 1");
      const tx = sys.sessions.write.checkpoint(
        [s.terms, s.sessionId, first, await sign(sys.renter, first)],
        { account: sys.host.account },
      );
      const paid1 = 100n * HOST_PRICE;
      await a.emitWithArgs(tx, sys.sessions, "SessionCheckpointed", [
        s.sessionId,
        addr(sys.host),
        100n,
        paid1,
        paid1,
        first.digest,
      ]);
      const s1 = split(paid1);
      await a.emitWithArgs(tx, sys.escrow, "PaymentReleased", released(s.sessionId, s1));
      assert.deepEqual(await state(s.sessionId), {
        status: SessionStatus.Open,
        deposit: DEPOSIT,
        paid: paid1,
        tokens: 100,
        closeAt: 0,
      });
      // The next receipt pays only what it adds.
      const second = receiptFor(s.sessionId, s.terms, 250);
      await a.emitWithArgs(
        sys.sessions.write.checkpoint(
          [s.terms, s.sessionId, second, await sign(sys.renter, second)],
          {
            account: sys.host.account,
          },
        ),
        sys.sessions,
        "SessionCheckpointed",
        [s.sessionId, addr(sys.host), 250n, 250n * HOST_PRICE, 150n * HOST_PRICE, second.digest],
      );
      assert.equal(
        await sys.escrow.read.balanceOf([sys.host.account.address, ETH]),
        s1.host + split(150n * HOST_PRICE).host,
      );
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, s.sessionId]), [
        ETH,
        DEPOSIT - 250n * HOST_PRICE,
      ]);
    });

    it("pays at the host's fee discount fixed at opening, whatever the discount becomes later", async () => {
      const host = sys.host.account.address;
      assert.equal(await sys.reputation.read.feeDiscountBps([host]), 0);
      const early = await open();
      assert.equal(early.terms.feeDiscountBps, 0);
      // Governance waives 20% of the treasury's share for every host (from a score of 0).
      await sys.reputation.write.setFeeDiscount([0, 2_000]);
      const discount = await sys.reputation.read.feeDiscountBps([host]);
      assert.equal(discount, 2_000);
      const r = await request();
      const opening = sys.sessions.write.openSession([r], {
        account: sys.renter.account,
        value: DEPOSIT,
      });
      await a.emitWithArgs(opening, sys.sessions, "SessionOpened", [
        sessionIdOf(termsOf(r, sys.renter, discount)),
        addr(sys.renter),
        addr(sys.host),
        MODEL,
        ETH,
        zeroAddress,
        HOST_PRICE,
        DEPOSIT,
        r.expiry,
        discount,
        r.salt,
      ]);
      const s: Opened = { ...(await openedIn(sys, await opening)), request: r };
      assert.equal(s.terms.feeDiscountBps, discount);
      assert.deepEqual(s.terms, termsOf(r, sys.renter, discount));
      // A session opened before the discount keeps paying without it.
      const noDiscount = split(100n * HOST_PRICE);
      await a.emitWithArgs(
        checkpoint(early, 100),
        sys.escrow,
        "PaymentReleased",
        released(early.sessionId, noDiscount),
      );
      // The discount is withdrawn; the session opened with it still pays at it.
      await sys.reputation.write.setFeeDiscount([0, 0]);
      assert.equal(await sys.reputation.read.feeDiscountBps([host]), 0);
      const paid = 100n * HOST_PRICE;
      const shares = split(paid, 2_000n);
      // 85% + 20% of the treasury's 10% to the host, 8% to the treasury, 5% to the stakers.
      assert.deepEqual(shares, {
        host: (paid * 8_700n) / 10_000n,
        treasury: (paid * 800n) / 10_000n,
        stakers: (paid * 500n) / 10_000n,
      });
      await a.emitWithArgs(
        checkpoint(s, 100),
        sys.escrow,
        "PaymentReleased",
        released(s.sessionId, shares),
      );
      // So does its close with a last receipt (the rest refunded)...
      const last = receiptFor(s.sessionId, s.terms, 300);
      const rest = split(200n * HOST_PRICE, 2_000n);
      await a.emitWithArgs(
        sys.sessions.write.closeSession(
          [s.terms, s.sessionId, last, await sign(sys.renter, last)],
          { account: sys.host.account },
        ),
        sys.escrow,
        "PaymentReleased",
        released(s.sessionId, rest, addr(sys.renter), DEPOSIT - 300n * HOST_PRICE),
      );
      // ... and a session spent to the last wei by its closing receipt.
      await sys.reputation.write.setFeeDiscount([0, 2_000]);
      const spent = await open();
      assert.equal(spent.terms.feeDiscountBps, 2_000);
      await sys.reputation.write.setFeeDiscount([0, 0]);
      const all = receiptFor(spent.sessionId, spent.terms, 1_000);
      const whole = split(DEPOSIT, 2_000n);
      await a.emitWithArgs(
        sys.sessions.write.closeSession(
          [spent.terms, spent.sessionId, all, await sign(sys.renter, all)],
          { account: sys.host.account },
        ),
        sys.escrow,
        "PaymentReleased",
        released(spent.sessionId, whole),
      );
      // A session opened after the discount was withdrawn has none.
      const late = await open();
      assert.equal(late.terms.feeDiscountBps, 0);
      await a.emitWithArgs(
        checkpoint(late, 100),
        sys.escrow,
        "PaymentReleased",
        released(late.sessionId, noDiscount),
      );
      assert.equal(
        await sys.escrow.read.balanceOf([host, ETH]),
        2n * noDiscount.host + shares.host + rest.host + whole.host,
      );
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [
        2n * noDiscount.treasury + shares.treasury + rest.treasury + whole.treasury,
        2n * noDiscount.stakers + shares.stakers + rest.stakers + whole.stakers,
      ]);
    });

    it("fixes a stake-tier discount at opening too (the discount the reputation system reports)", async () => {
      const host = sys.host.account.address;
      // The host's registry stake (the minimum) reaches a 10% tier.
      const [, stake] = await sys.registry.read.hostState([host]);
      await sys.reputation.write.setStakeTiers([[stake], [1_000]]);
      assert.equal(await sys.reputation.read.feeDiscountBps([host]), 1_000);
      const s = await open();
      assert.equal(s.terms.feeDiscountBps, 1_000);
      await sys.reputation.write.setStakeTiers([[], []]);
      assert.equal(await sys.reputation.read.feeDiscountBps([host]), 0);
      const shares = split(100n * HOST_PRICE, 1_000n);
      await a.emitWithArgs(
        checkpoint(s, 100),
        sys.escrow,
        "PaymentReleased",
        released(s.sessionId, shares),
      );
      assert.equal((await open()).terms.feeDiscountBps, 0);
    });

    it("accepts receipts signed by the session's signer", async () => {
      const s = await open({ signer: sys.gateway.account.address });
      assert.equal(s.terms.signer, addr(sys.gateway));
      await checkpoint(s, 10, undefined, sys.gateway);
      await checkpoint(s, 20, undefined, sys.renter);
      assert.equal((await state(s.sessionId)).paid, 20n * HOST_PRICE);
    });

    it("accepts ERC-1271 signatures of a contract renter and of a contract signer", async () => {
      // A smart-account renter: its owner (other) signs; the renter's own key is the wallet.
      const wallet = await viem.deployContract("TestERC1271Wallet", [sys.other.account.address]);
      const r = await request();
      const hash = await wallet.write.execute(
        [
          sys.sessions.address,
          DEPOSIT,
          encodeFunctionData({ abi: sys.sessions.abi, functionName: "openSession", args: [r] }),
        ],
        { account: sys.other.account, value: DEPOSIT },
      );
      const s = await openedIn(sys, hash);
      assert.equal(s.terms.renter, getAddress(wallet.address));
      const receipt = receiptFor(s.sessionId, s.terms, 40);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.checkpoint(
          [s.terms, s.sessionId, receipt, await sign(sys.renter, receipt)],
          { account: sys.host.account },
        ),
        sys.sessions,
        "SessionManagerBadSignature",
        [s.sessionId],
      );
      await sys.sessions.write.checkpoint(
        [s.terms, s.sessionId, receipt, await sign(sys.other, receipt)],
        { account: sys.host.account },
      );
      assert.equal((await state(s.sessionId)).paid, 40n * HOST_PRICE);

      // An EOA renter naming a contract account (owned by the gateway) as its signer.
      const gatewayWallet = await viem.deployContract("TestERC1271Wallet", [
        sys.gateway.account.address,
      ]);
      const g = await open({ signer: gatewayWallet.address });
      const byGateway = receiptFor(g.sessionId, g.terms, 60);
      await sys.sessions.write.checkpoint(
        [g.terms, g.sessionId, byGateway, await sign(sys.gateway, byGateway)],
        { account: sys.host.account },
      );
      assert.equal((await state(g.sessionId)).paid, 60n * HOST_PRICE);
      const byOther = receiptFor(g.sessionId, g.terms, 70);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.checkpoint(
          [g.terms, g.sessionId, byOther, await sign(sys.other, byOther)],
          { account: sys.host.account },
        ),
        sys.sessions,
        "SessionManagerBadSignature",
        [g.sessionId],
      );
    });

    it("signs over the documented EIP-712 domain and type", async () => {
      const receipt = receiptFor(7n, { pricePerToken: HOST_PRICE }, 3);
      const chainId = await sys.publicClient.getChainId();
      const domain = {
        name: "Fabstir Sessions",
        version: "1",
        chainId,
        verifyingContract: sys.sessions.address,
      } as const;
      assert.equal(
        await sys.sessions.read.receiptDigest([receipt]),
        hashTypedData({ domain, types: RECEIPT_TYPES, primaryType: "Receipt", message: receipt }),
      );
      assert.equal(
        await sys.sessions.read.RECEIPT_TYPEHASH(),
        keccak256(
          stringToHex("Receipt(uint256 sessionId,uint32 tokens,uint96 amount,bytes32 digest)"),
        ),
      );
      const [fields, name, version, id, verifying, salt, extensions] =
        await sys.sessions.read.eip712Domain();
      assert.deepEqual(
        [fields, name, version, id, verifying, salt, extensions],
        [
          "0x0f",
          "Fabstir Sessions",
          "1",
          BigInt(chainId),
          getAddress(sys.sessions.address),
          zeroHash,
          [],
        ],
      );
    });

    it("refuses receipts for another session, chain or contract, or from an unauthorized key", async () => {
      const s = await open({ signer: sys.gateway.account.address });
      const other = await open();
      const bad = async (receipt: Receipt, signature: `0x${string}`) =>
        a.revertWithCustomErrorWithArgs(
          sys.sessions.write.checkpoint([s.terms, s.sessionId, receipt, signature], {
            account: sys.host.account,
          }),
          sys.sessions,
          "SessionManagerBadSignature",
          [s.sessionId],
        );
      const forOther = receiptFor(other.sessionId, other.terms, 10);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.checkpoint(
          [s.terms, s.sessionId, forOther, await sign(sys.renter, forOther)],
          { account: sys.host.account },
        ),
        sys.sessions,
        "SessionManagerReceiptForOtherSession",
        [s.sessionId, other.sessionId],
      );
      const receipt = receiptFor(s.sessionId, s.terms, 10);
      await bad(receipt, await sign(sys.renter, receipt, { chainId: 8453 }));
      await bad(
        receipt,
        await sign(sys.renter, receipt, { verifyingContract: sys.escrow.address }),
      );
      await bad(receipt, await sign(sys.renter, receipt, { name: "Fabstir" }));
      await bad(receipt, await sign(sys.other, receipt));
      await bad(receipt, await sign(sys.host, receipt));
      await bad(receipt, "0x1234");
      // A signature of one receipt does not cover another.
      await bad({ ...receipt, amount: receipt.amount + 1n }, await sign(sys.renter, receipt));
      await bad({ ...receipt, digest: keccak256("0x01") }, await sign(sys.renter, receipt));
      assert.equal((await state(s.sessionId)).paid, 0n);
    });

    it("refuses stale receipts: the same or a lower amount, or fewer tokens", async () => {
      const s = await open();
      await checkpoint(s, 100);
      const paid = 100n * HOST_PRICE;
      const stale = async (tokens: number, amount: bigint) => {
        const receipt = receiptFor(s.sessionId, s.terms, tokens, amount);
        await a.revertWithCustomErrorWithArgs(
          sys.sessions.write.checkpoint(
            [s.terms, s.sessionId, receipt, await sign(sys.renter, receipt)],
            { account: sys.host.account },
          ),
          sys.sessions,
          "SessionManagerStaleReceipt",
          [s.sessionId, paid, amount],
        );
      };
      await stale(100, paid); // replayed
      await stale(50, 50n * HOST_PRICE); // older, signed before
      await stale(120, paid); // more tokens, same amount
      await stale(99, paid + 1n); // higher amount, fewer tokens
      // Same tokens and a higher amount is a later receipt (e.g. a price per request).
      await checkpoint(s, 100, paid + 1n);
    });

    it("refuses a receipt above the deposit, which a top-up makes payable", async () => {
      const s = await open();
      const receipt = receiptFor(s.sessionId, s.terms, 1_001);
      const signature = await sign(sys.renter, receipt);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.checkpoint([s.terms, s.sessionId, receipt, signature], {
          account: sys.host.account,
        }),
        sys.sessions,
        "SessionManagerReceiptExceedsDeposit",
        [s.sessionId, receipt.amount, DEPOSIT],
      );
      await sys.sessions.write.topUp([s.terms, s.sessionId, HOST_PRICE], {
        account: sys.renter.account,
        value: HOST_PRICE,
      });
      await sys.sessions.write.checkpoint([s.terms, s.sessionId, receipt, signature], {
        account: sys.host.account,
      });
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, s.sessionId]), [
        ETH,
        0n,
      ]);
    });

    it("only the host checkpoints, also while closing and after expiry, never once settled", async () => {
      const s = await open();
      const receipt = receiptFor(s.sessionId, s.terms, 10);
      const signature = await sign(sys.renter, receipt);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.checkpoint([s.terms, s.sessionId, receipt, signature], {
          account: sys.renter.account,
        }),
        sys.sessions,
        "SessionManagerNotHost",
        [s.sessionId, addr(sys.renter)],
      );
      await sys.sessions.write.requestClose([s.terms, s.sessionId], {
        account: sys.renter.account,
      });
      await sys.sessions.write.checkpoint([s.terms, s.sessionId, receipt, signature], {
        account: sys.host.account,
      });
      const e = await open();
      await time.increaseTo(e.terms.expiry + 10n);
      await checkpoint(e, 20);
      await time.increase(WINDOW);
      await sys.sessions.write.settle([e.terms, e.sessionId]);
      await a.revertWithCustomErrorWithArgs(
        checkpoint(e, 30),
        sys.sessions,
        "SessionManagerInvalidState",
        [e.sessionId, SessionStatus.Settled],
      );
    });
  });

  describe("closeSession", () => {
    it("applies the last receipt, splits the payment 85/10/5 exactly and refunds the rest", async () => {
      const s = await open();
      const amount = 123_456_789n; // rounding dust in every share
      const receipt = receiptFor(s.sessionId, s.terms, 123, amount);
      const tx = sys.sessions.write.closeSession(
        [s.terms, s.sessionId, receipt, await sign(sys.renter, receipt)],
        { account: sys.host.account },
      );
      const shares = split(amount);
      const refund = DEPOSIT - amount;
      await a.emitWithArgs(tx, sys.sessions, "SessionCheckpointed", [
        s.sessionId,
        addr(sys.host),
        123n,
        amount,
        amount,
        receipt.digest,
      ]);
      await a.emitWithArgs(tx, sys.sessions, "SessionSettled", [
        s.sessionId,
        addr(sys.host),
        CloseReason.Host,
        123n,
        amount,
        refund,
      ]);
      await a.emitWithArgs(
        tx,
        sys.escrow,
        "PaymentReleased",
        released(s.sessionId, shares, addr(sys.renter), refund),
      );
      assert.deepEqual(shares, { host: 104_938_270n, treasury: 12_345_678n, stakers: 6_172_841n });
      assert.equal(await sys.escrow.read.balanceOf([sys.host.account.address, ETH]), shares.host);
      assert.equal(await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]), refund);
      assert.deepEqual(await sys.escrow.read.feesOf([ETH]), [shares.treasury, shares.stakers]);
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, s.sessionId]), [
        zeroAddress,
        0n,
      ]);
      assert.equal(
        await sys.publicClient.getBalance({ address: sys.escrow.address }),
        shares.host + shares.treasury + shares.stakers + refund,
      );
      assert.deepEqual(await state(s.sessionId), {
        status: SessionStatus.Settled,
        deposit: DEPOSIT,
        paid: amount,
        tokens: 123,
        closeAt: 2 ** 32 - 1,
      });
    });

    it("without a receipt pays nothing more than the checkpoints and refunds the rest", async () => {
      const s = await open();
      await checkpoint(s, 300);
      const paid = 300n * HOST_PRICE;
      const tx = sys.sessions.write.closeSession(
        [s.terms, s.sessionId, receiptFor(s.sessionId, s.terms, 999), "0x"],
        { account: sys.host.account },
      );
      await a.emitWithArgs(tx, sys.sessions, "SessionSettled", [
        s.sessionId,
        addr(sys.host),
        CloseReason.Host,
        300n,
        paid,
        DEPOSIT - paid,
      ]);
      await a.emitWithArgs(tx, sys.escrow, "PaymentReleased", [
        s.sessionId,
        addr(sys.host),
        ETH,
        getAddress(sys.sessions.address),
        addr(sys.renter),
        0n,
        0n,
        0n,
        DEPOSIT - paid,
      ]);
      assert.equal(
        await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
        DEPOSIT - paid,
      );
      assert.equal(
        await sys.escrow.read.balanceOf([sys.host.account.address, ETH]),
        split(paid).host,
      );
      // A session never served refunds its whole deposit.
      const unused = await open();
      await a.emitWithArgs(
        sys.sessions.write.closeSession(
          [unused.terms, unused.sessionId, receiptFor(0n, unused.terms, 0), "0x"],
          { account: sys.host.account },
        ),
        sys.sessions,
        "SessionSettled",
        [unused.sessionId, addr(sys.host), CloseReason.Host, 0n, 0n, DEPOSIT],
      );
    });

    it("a last receipt that spends the whole deposit pays it all and refunds nothing", async () => {
      const s = await open();
      await checkpoint(s, 400);
      const receipt = receiptFor(s.sessionId, s.terms, 1_000);
      const tx = sys.sessions.write.closeSession(
        [s.terms, s.sessionId, receipt, await sign(sys.renter, receipt)],
        { account: sys.host.account },
      );
      await a.emitWithArgs(tx, sys.sessions, "SessionSettled", [
        s.sessionId,
        addr(sys.host),
        CloseReason.Host,
        1_000n,
        DEPOSIT,
        0n,
      ]);
      const rest = split(600n * HOST_PRICE);
      await a.emitWithArgs(tx, sys.escrow, "PaymentReleased", released(s.sessionId, rest));
      assert.equal(await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]), 0n);
      assert.deepEqual(await sys.escrow.read.lockOf([sys.sessions.address, s.sessionId]), [
        ETH,
        0n,
      ]);
      // Spent by a checkpoint, the close has nothing to move.
      const spent = await open();
      await checkpoint(spent, 1_000);
      const hash = await sys.sessions.write.closeSession(
        [spent.terms, spent.sessionId, receiptFor(0n, spent.terms, 0), "0x"],
        { account: sys.host.account },
      );
      const closing = await sys.publicClient.waitForTransactionReceipt({ hash });
      assert.equal(
        closing.logs.filter((l) => getAddress(l.address) === getAddress(sys.escrow.address)).length,
        0,
      );
      assert.equal((await state(spent.sessionId)).status, SessionStatus.Settled);
    });

    it("only the host closes, once; a bad receipt fails the whole close", async () => {
      const s = await open();
      const none = receiptFor(0n, s.terms, 0);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.closeSession([s.terms, s.sessionId, none, "0x"], {
          account: sys.renter.account,
        }),
        sys.sessions,
        "SessionManagerNotHost",
        [s.sessionId, addr(sys.renter)],
      );
      const forged = receiptFor(s.sessionId, s.terms, 500);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.closeSession(
          [s.terms, s.sessionId, forged, await sign(sys.host, forged)],
          { account: sys.host.account },
        ),
        sys.sessions,
        "SessionManagerBadSignature",
        [s.sessionId],
      );
      assert.equal((await state(s.sessionId)).status, SessionStatus.Open);
      await sys.sessions.write.closeSession([s.terms, s.sessionId, none, "0x"], {
        account: sys.host.account,
      });
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.closeSession([s.terms, s.sessionId, none, "0x"], {
          account: sys.host.account,
        }),
        sys.sessions,
        "SessionManagerInvalidState",
        [s.sessionId, SessionStatus.Settled],
      );
    });
  });

  describe("requestClose and settle", () => {
    it("opens the host's window; the host may still be paid in it; then anyone settles", async () => {
      const s = await open();
      await checkpoint(s, 100);
      const at = BigInt(await time.latest()) + 10n;
      await time.setNextBlockTimestamp(at);
      await a.emitWithArgs(
        sys.sessions.write.requestClose([s.terms, s.sessionId], { account: sys.renter.account }),
        sys.sessions,
        "SessionCloseRequested",
        [s.sessionId, addr(sys.renter), at + WINDOW],
      );
      assert.deepEqual(await state(s.sessionId), {
        status: SessionStatus.Closing,
        deposit: DEPOSIT,
        paid: 100n * HOST_PRICE,
        tokens: 100,
        closeAt: Number(at + WINDOW),
      });
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.requestClose([s.terms, s.sessionId], { account: sys.renter.account }),
        sys.sessions,
        "SessionManagerInvalidState",
        [s.sessionId, SessionStatus.Closing],
      );
      // In the window: the host presents a later receipt; settling is refused.
      await checkpoint(s, 150);
      await time.setNextBlockTimestamp(at + WINDOW - 1n);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.settle([s.terms, s.sessionId], { account: sys.other.account }),
        sys.sessions,
        "SessionManagerCloseWindowOpen",
        [s.sessionId, at + WINDOW],
      );
      await time.setNextBlockTimestamp(at + WINDOW);
      const paid = 150n * HOST_PRICE;
      const tx = sys.sessions.write.settle([s.terms, s.sessionId], { account: sys.other.account });
      await a.emitWithArgs(tx, sys.sessions, "SessionSettled", [
        s.sessionId,
        addr(sys.other),
        CloseReason.Renter,
        150n,
        paid,
        DEPOSIT - paid,
      ]);
      await a.emitWithArgs(tx, sys.escrow, "PaymentReleased", [
        s.sessionId,
        addr(sys.host),
        ETH,
        getAddress(sys.sessions.address),
        addr(sys.renter),
        0n,
        0n,
        0n,
        DEPOSIT - paid,
      ]);
      assert.equal(
        await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]),
        DEPOSIT - paid,
      );
      assert.equal((await state(s.sessionId)).status, SessionStatus.Settled);
    });

    it("only the renter asks to close, never after settlement; the host may close in the window", async () => {
      const s = await open();
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.requestClose([s.terms, s.sessionId], { account: sys.host.account }),
        sys.sessions,
        "SessionManagerNotRenter",
        [s.sessionId, addr(sys.host)],
      );
      await sys.sessions.write.requestClose([s.terms, s.sessionId], {
        account: sys.renter.account,
      });
      await a.emitWithArgs(
        sys.sessions.write.closeSession([s.terms, s.sessionId, receiptFor(0n, s.terms, 0), "0x"], {
          account: sys.host.account,
        }),
        sys.sessions,
        "SessionSettled",
        [s.sessionId, addr(sys.host), CloseReason.Host, 0n, 0n, DEPOSIT],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.requestClose([s.terms, s.sessionId], { account: sys.renter.account }),
        sys.sessions,
        "SessionManagerInvalidState",
        [s.sessionId, SessionStatus.Settled],
      );
    });

    it("settles an open session once its expiry and the host's window have passed", async () => {
      const s = await open();
      await checkpoint(s, 10);
      const until = s.terms.expiry + WINDOW;
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.settle([s.terms, s.sessionId]),
        sys.sessions,
        "SessionManagerCloseWindowOpen",
        [s.sessionId, until],
      );
      await time.setNextBlockTimestamp(until - 1n);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.settle([s.terms, s.sessionId]),
        sys.sessions,
        "SessionManagerCloseWindowOpen",
        [s.sessionId, until],
      );
      await time.setNextBlockTimestamp(until);
      await a.emitWithArgs(
        sys.sessions.write.settle([s.terms, s.sessionId], { account: sys.host2.account }),
        sys.sessions,
        "SessionSettled",
        [
          s.sessionId,
          addr(sys.host2),
          CloseReason.Expired,
          10n,
          10n * HOST_PRICE,
          DEPOSIT - 10n * HOST_PRICE,
        ],
      );
    });

    it("a close requested after expiry does not extend the host's window past expiry + window", async () => {
      const s = await open();
      await time.increaseTo(s.terms.expiry + 10n);
      await sys.sessions.write.requestClose([s.terms, s.sessionId], {
        account: sys.renter.account,
      });
      const until = s.terms.expiry + WINDOW;
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.settle([s.terms, s.sessionId]),
        sys.sessions,
        "SessionManagerCloseWindowOpen",
        [s.sessionId, until],
      );
      await time.setNextBlockTimestamp(until);
      await a.emitWithArgs(
        sys.sessions.write.settle([s.terms, s.sessionId]),
        sys.sessions,
        "SessionSettled",
        [s.sessionId, addr(sys.admin), CloseReason.Expired, 0n, 0n, DEPOSIT],
      );
    });

    it("settles each session once: every later call on it is refused", async () => {
      const s = await open();
      await sys.sessions.write.requestClose([s.terms, s.sessionId], {
        account: sys.renter.account,
      });
      await time.increase(WINDOW);
      await sys.sessions.write.settle([s.terms, s.sessionId]);
      const settled = [s.sessionId, SessionStatus.Settled] as const;
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.settle([s.terms, s.sessionId]),
        sys.sessions,
        "SessionManagerInvalidState",
        [...settled],
      );
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.closeSession([s.terms, s.sessionId, receiptFor(0n, s.terms, 0), "0x"], {
          account: sys.host.account,
        }),
        sys.sessions,
        "SessionManagerInvalidState",
        [...settled],
      );
      await a.revertWithCustomErrorWithArgs(
        checkpoint(s, 1),
        sys.sessions,
        "SessionManagerInvalidState",
        [...settled],
      );
      assert.equal(await sys.escrow.read.balanceOf([sys.renter.account.address, ETH]), DEPOSIT);
    });
  });

  describe("terms", () => {
    it("refuses terms that do not hash to the id (WrongTerms) and an unknown session", async () => {
      const s = await open();
      const none = receiptFor(0n, s.terms, 0);
      const calls = (terms: SessionTerms, id: bigint) => [
        () => sys.sessions.write.topUp([terms, id, 1n], { account: sys.renter.account, value: 1n }),
        () => sys.sessions.write.requestClose([terms, id], { account: sys.renter.account }),
        () =>
          sys.sessions.write.checkpoint([terms, id, { ...none, sessionId: id }, "0x"], {
            account: sys.host.account,
          }),
        () =>
          sys.sessions.write.closeSession([terms, id, none, "0x"], { account: sys.host.account }),
        () => sys.sessions.write.settle([terms, id]),
      ];
      // An id no terms of an open session hash to: the session's own terms are wrong for it.
      for (const call of calls(s.terms, 99n)) {
        await a.revertWithCustomErrorWithArgs(call(), sys.sessions, "SessionManagerWrongTerms", [
          99n,
        ]);
      }
      // Terms that hash to their id, but no session was opened with them: unknown.
      const unopened = { ...s.terms, salt: s.terms.salt ^ 1n };
      const unknownId = sessionIdOf(unopened);
      for (const call of calls(unopened, unknownId)) {
        await a.revertWithCustomErrorWithArgs(
          call(),
          sys.sessions,
          "SessionManagerUnknownSession",
          [unknownId],
        );
      }
      const forged: SessionTerms[] = [
        { ...s.terms, pricePerToken: s.terms.pricePerToken * 2n },
        { ...s.terms, host: sys.host2.account.address },
        { ...s.terms, renter: sys.other.account.address },
        { ...s.terms, signer: sys.host.account.address },
        { ...s.terms, expiry: s.terms.expiry - 86_400n },
        { ...s.terms, token: sys.usd.address },
        { ...s.terms, modelId: OTHER_MODEL },
        { ...s.terms, feeDiscountBps: 5_000 },
        unopened,
      ];
      for (const terms of forged) {
        for (const call of calls(terms, s.sessionId)) {
          await a.revertWithCustomErrorWithArgs(call(), sys.sessions, "SessionManagerWrongTerms", [
            s.sessionId,
          ]);
        }
      }
      // Another session's terms are wrong for this one, and this one's for the other.
      const t = await open();
      for (const call of [...calls(t.terms, s.sessionId), ...calls(s.terms, t.sessionId)]) {
        await a.revertWithCustomError(call(), sys.sessions, "SessionManagerWrongTerms");
      }
      assert.deepEqual(await state(s.sessionId), {
        status: SessionStatus.Open,
        deposit: DEPOSIT,
        paid: 0n,
        tokens: 0,
        closeAt: 0,
      });
      for (const id of [99n, unknownId]) {
        assert.deepEqual(await sys.sessions.read.sessionState([id]), [
          SessionStatus.None,
          { deposit: 0n, paid: 0n, tokens: 0, closeAt: 0 },
        ]);
        assert.equal(await sys.sessions.read.termsHash([id]), zeroHash);
      }
      assert.equal(await sys.sessions.read.termsHash([s.sessionId]), termsHash(s.terms));
    });
  });

  describe("administration", () => {
    it("sets the close window within bounds for requests made from then on", async () => {
      const s = await open();
      await a.emitWithArgs(
        sys.sessions.write.setCloseWindow([600]),
        sys.sessions,
        "CloseWindowUpdated",
        [Number(WINDOW), 600],
      );
      assert.equal(await sys.sessions.read.closeWindow(), 600);
      const at = BigInt(await time.latest()) + 5n;
      await time.setNextBlockTimestamp(at);
      await a.emitWithArgs(
        sys.sessions.write.requestClose([s.terms, s.sessionId], { account: sys.renter.account }),
        sys.sessions,
        "SessionCloseRequested",
        [s.sessionId, addr(sys.renter), at + 600n],
      );
      const [min, max] = [
        await sys.sessions.read.MIN_CLOSE_WINDOW(),
        await sys.sessions.read.MAX_CLOSE_WINDOW(),
      ];
      assert.deepEqual([min, max], [60, 7 * 86_400]);
      for (const bad of [0, min - 1, max + 1]) {
        await a.revertWithCustomErrorWithArgs(
          sys.sessions.write.setCloseWindow([bad]),
          sys.sessions,
          "SessionManagerInvalidCloseWindow",
          [bad],
        );
      }
      await sys.sessions.write.setCloseWindow([min]);
      await sys.sessions.write.setCloseWindow([max]);
      await a.revertWithCustomError(
        sys.sessions.write.setCloseWindow([600], { account: sys.other.account }),
        sys.sessions,
        "AccessControlUnauthorizedAccount",
      );
    });

    it("without a reputation system opens at no discount and refuses any minimum score", async () => {
      await sys.reputation.write.setFeeDiscount([0, 2_000]);
      assert.equal(await sys.reputation.read.feeDiscountBps([sys.host.account.address]), 2_000);
      await a.emitWithArgs(
        sys.sessions.write.setReputation([zeroAddress]),
        sys.sessions,
        "ReputationUpdated",
        [getAddress(sys.reputation.address), zeroAddress],
      );
      assert.equal(await sys.sessions.read.reputation(), zeroAddress);
      const strict = await request({ minScore: 1 });
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.openSession([strict], { account: sys.renter.account, value: DEPOSIT }),
        sys.sessions,
        "SessionManagerScoreTooLow",
        [addr(sys.host), 0, 1],
      );
      const s = await open();
      assert.equal(s.terms.feeDiscountBps, 0, "no reputation system: no discount");
      assert.equal(s.sessionId, sessionIdOf(termsOf(s.request)));
      await sys.sessions.write.setReputation([sys.reputation.address]);
      assert.equal((await open()).terms.feeDiscountBps, 2_000);
      await a.revertWithCustomError(
        sys.sessions.write.setReputation([zeroAddress], { account: sys.other.account }),
        sys.sessions,
        "AccessControlUnauthorizedAccount",
      );
    });

    it("opens at no discount when the reputation system fails, instead of refusing to open", async () => {
      await sys.reputation.write.setFeeDiscount([0, 2_000]);
      // A contract without feeDiscountAt (the escrow) stands in for a broken reputation system.
      await sys.sessions.write.setReputation([sys.escrow.address]);
      const s = await open();
      assert.equal(s.terms.feeDiscountBps, 0, "a failing reputation system: no discount");
      assert.deepEqual(await state(s.sessionId), {
        status: SessionStatus.Open,
        deposit: DEPOSIT,
        paid: 0n,
        tokens: 0,
        closeAt: 0,
      });
      // A minimum score is still the renter's to require: then a failing system refuses.
      const strict = await request({ minScore: 1 });
      await assert.rejects(
        sys.sessions.write.openSession([strict], { account: sys.renter.account, value: DEPOSIT }),
      );
      await sys.sessions.write.setReputation([sys.reputation.address]);
      assert.equal((await open()).terms.feeDiscountBps, 2_000);
    });

    it("refuses zero addresses and bad windows at deployment, and a second initialization", async () => {
      await assert.rejects(
        viem.deployContract("SessionManager", [zeroAddress, sys.escrow.address]),
        /SessionManagerZeroAddress/,
      );
      await assert.rejects(
        viem.deployContract("SessionManager", [sys.registry.address, zeroAddress]),
        /SessionManagerZeroAddress/,
      );
      const impl = await viem.deployContract("SessionManager", [
        sys.registry.address,
        sys.escrow.address,
      ]);
      const init = (admin: `0x${string}`, window: number) =>
        encodeFunctionData({ abi: impl.abi, functionName: "initialize", args: [admin, window] });
      await assert.rejects(
        viem.deployContract("FabstirProxy", [impl.address, init(zeroAddress, 3_600)]),
        /SessionManagerZeroAddress/,
      );
      await assert.rejects(
        viem.deployContract("FabstirProxy", [impl.address, init(sys.admin.account.address, 0)]),
        /SessionManagerInvalidCloseWindow/,
      );
      await a.revertWithCustomError(
        sys.sessions.write.initialize([sys.admin.account.address, 3_600]),
        sys.sessions,
        "InvalidInitialization",
      );
      assert.equal(
        getAddress(await sys.sessions.read.registry()),
        getAddress(sys.registry.address),
      );
      assert.equal(getAddress(await sys.sessions.read.escrow()), getAddress(sys.escrow.address));
      assert.equal(await sys.sessions.read.MAX_SESSION_DURATION(), 30n * 86_400n);
    });

    it("upgrades through UUPS only with UPGRADER_ROLE, keeping its sessions", async () => {
      const s = await open();
      await checkpoint(s, 100);
      const impl = await viem.deployContract("SessionManager", [
        sys.registry.address,
        sys.escrow.address,
      ]);
      await a.revertWithCustomErrorWithArgs(
        sys.sessions.write.upgradeToAndCall([impl.address, "0x"], { account: sys.other.account }),
        sys.sessions,
        "AccessControlUnauthorizedAccount",
        [addr(sys.other), UPGRADER_ROLE],
      );
      const before = await state(s.sessionId);
      await a.emitWithArgs(
        sys.sessions.write.upgradeToAndCall([impl.address, "0x"]),
        sys.sessions,
        "Upgraded",
        [getAddress(impl.address)],
      );
      assert.deepEqual(await state(s.sessionId), before);
      await checkpoint(s, 200);
      assert.equal((await state(s.sessionId)).paid, 200n * HOST_PRICE);
    });
  });
});
