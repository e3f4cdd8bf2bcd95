// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ISessionManager
/// @notice Types, events and errors of the SessionManager: one deposit, many answers, paid by
/// renter-signed EIP-712 receipts.
interface ISessionManager {
    /// @notice Where a session is. Values are emitted as uint8: new states are only ever appended.
    enum SessionStatus {
        None,
        Open,
        Closing,
        Settled
    }

    /// @notice Who or what ended a session.
    /// @param Host the host closed it (with or without a last receipt).
    /// @param Renter the renter asked to close and the host's window passed.
    /// @param Expired the session expired and the host's window after expiry passed.
    enum CloseReason {
        Host,
        Renter,
        Expired
    }

    /// @notice What a renter asks for when opening a session.
    /// @param host the only host that serves (and is paid by) the session.
    /// @param modelId the model's id, as the host offers it in the registry.
    /// @param token payment token, address(0) for ETH.
    /// @param signer a key the renter authorizes to sign this session's receipts besides
    /// itself (e.g. its gateway), or address(0) for none.
    /// @param maxPricePerToken the most the renter pays per output token; the session is
    /// opened at the host's registry price, which must not be higher.
    /// @param deposit the amount locked in the escrow (msg.value for ETH).
    /// @param expiry unix time after which the session can no longer serve.
    /// @param minScore the least on-chain reputation score (0-1000) the host must have; 0 for none.
    /// @param salt any number the renter picks so that its sessions' terms, and so their ids,
    /// differ (the renter tools pick it at random); reusing the terms of an existing session
    /// is refused.
    struct SessionRequest {
        address host;
        bytes32 modelId;
        address token;
        address signer;
        uint64 maxPricePerToken;
        uint96 deposit;
        uint64 expiry;
        uint16 minScore;
        uint64 salt;
    }

    /// @notice A session's fixed terms. The session's id is their hash,
    /// uint256(keccak256(abi.encode(terms))), and nothing else of them is stored: every call
    /// that acts on a session passes them back (they are in SessionOpened) and the contract
    /// checks them against the id.
    /// @param feeDiscountBps the host's discount on the treasury's fee share, fixed at opening as
    /// the price is (the ReputationSystem's feeDiscountBps then).
    struct Session {
        address renter;
        address host;
        address token;
        address signer;
        bytes32 modelId;
        uint64 pricePerToken;
        uint64 expiry;
        uint16 feeDiscountBps;
        uint64 salt;
    }

    /// @notice What the renter (or its signer) signs after each answer (EIP-712, domain
    /// "Fabstir Sessions" version 1, bound to the chain and this contract).
    /// @param tokens output tokens served so far in the session (cumulative).
    /// @param amount what the renter owes for them so far (cumulative, in the session's token).
    /// @param digest the running digest of the answers' output hashes:
    /// d0 = 0, d(n) = keccak256(abi.encode(d(n-1), outputHash(n))).
    struct Receipt {
        uint256 sessionId;
        uint32 tokens;
        uint96 amount;
        bytes32 digest;
    }

    /// @notice A session's changing state: one slot.
    /// @param deposit everything the renter locked (opening deposit plus top-ups).
    /// @param paid the cumulative amount of the latest receipt paid to the host.
    /// @param tokens the cumulative tokens of that receipt.
    /// @param closeAt 0 while open; the end of the host's window once the renter asked to
    /// close; type(uint32).max once settled.
    struct SessionState {
        uint96 deposit;
        uint96 paid;
        uint32 tokens;
        uint32 closeAt;
    }

    event SessionOpened(
        uint256 indexed sessionId,
        address indexed renter,
        address indexed host,
        bytes32 modelId,
        address token,
        address signer,
        uint256 pricePerToken,
        uint256 deposit,
        uint64 expiry,
        uint16 feeDiscountBps,
        uint64 salt
    );
    /// @notice The renter added `amount`; `deposit` is the new total.
    event SessionToppedUp(uint256 indexed sessionId, uint256 amount, uint256 deposit);
    /// @notice The host was paid up to a receipt: `increment` now, `amount` in all.
    event SessionCheckpointed(
        uint256 indexed sessionId, address indexed host, uint256 tokens, uint256 amount, uint256 increment, bytes32 digest
    );
    /// @notice The renter asked to close; the host may present a later receipt until `closeAt`.
    event SessionCloseRequested(uint256 indexed sessionId, address indexed renter, uint64 closeAt);
    /// @notice The session ended: the host was paid `paid` in all, the renter refunded `refund`.
    event SessionSettled(
        uint256 indexed sessionId,
        address indexed closedBy,
        CloseReason reason,
        uint256 tokens,
        uint256 paid,
        uint256 refund
    );
    event CloseWindowUpdated(uint32 previous, uint32 current);
    event ReputationUpdated(address indexed previous, address indexed current);
    event SessionsPaused(address account);
    event SessionsUnpaused(address account);

    error SessionManagerZeroAddress();
    error SessionManagerUnknownSession(uint256 sessionId);
    /// @notice A session with the same terms (renter, host, model, token, signer, price, expiry,
    /// discount and salt) exists already: pick another salt.
    error SessionManagerSessionExists(uint256 sessionId);
    error SessionManagerWrongTerms(uint256 sessionId);
    error SessionManagerInvalidState(uint256 sessionId, SessionStatus status);
    error SessionManagerNotHost(uint256 sessionId, address caller);
    error SessionManagerNotRenter(uint256 sessionId, address caller);
    error SessionManagerInvalidRequest(string field);
    error SessionManagerPriceTooHigh(uint256 hostPrice, uint256 maxPrice);
    error SessionManagerExpired(uint256 sessionId, uint64 expiry);
    error SessionManagerBadSignature(uint256 sessionId);
    error SessionManagerReceiptForOtherSession(uint256 sessionId, uint256 receiptSessionId);
    /// @notice The receipt does not raise the amount, or lowers the tokens, of the one already paid.
    error SessionManagerStaleReceipt(uint256 sessionId, uint256 paid, uint256 amount);
    error SessionManagerReceiptExceedsDeposit(uint256 sessionId, uint256 amount, uint256 deposit);
    error SessionManagerCloseWindowOpen(uint256 sessionId, uint64 until);
    error SessionManagerInvalidCloseWindow(uint32 window);
    error SessionManagerPaused();
    /// @notice The host's reputation score is below the renter's minimum.
    error SessionManagerScoreTooLow(address host, uint16 score, uint16 minScore);
}
