// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IPaymentEscrow} from "../escrow/IPaymentEscrow.sol";
import {INodeRegistry} from "../registry/INodeRegistry.sol";
import {IReputationSystem} from "../reputation/IReputationSystem.sol";
import {ISessionManager} from "./ISessionManager.sol";

/// @title SessionManager
/// @notice Sessions: a renter locks one deposit in the PaymentEscrow for one host, model and
/// token, at the host's price, until an expiry. After each answer the renter (or a signer it
/// named for the session) signs an EIP-712 receipt for the cumulative tokens and amount; the
/// host serves on, with no transaction per answer, and is paid through the escrow (fee split,
/// pull payments) when it checkpoints or closes with its latest receipt.
///
/// Closing: the host closes at any time (settled at once); the renter asks to close, which
/// opens a window of `closeWindow` seconds in which the host may still present a later receipt,
/// after which anyone settles; after `expiry + closeWindow` anyone settles. Settlement pays
/// nothing beyond the latest receipt presented and refunds the rest of the deposit.
///
/// Guarantees: a session never pays out more than its deposit (the escrow holds exactly
/// deposit - paid); the host never receives more than the latest valid receipt (payments are
/// increments between receipts, and receipts only ever raise the amount); a session settles
/// once.
/// @dev Gas: a session's id is the hash of its fixed terms (callers pass them back; they are in
/// SessionOpened) and its changing state is one slot, so opening writes one slot of its own and
/// a checkpoint rewrites it. The host's fee discount is fixed at opening with the price, so a
/// checkpoint asks no other contract about the host.
contract SessionManager is
    Initializable,
    AccessControlUpgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransient,
    ISessionManager
{
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");

    /// @notice The longest a session may run.
    uint64 public constant MAX_SESSION_DURATION = 30 days;
    /// @notice Bounds of the host's window after a renter's close request or an expiry.
    uint32 public constant MIN_CLOSE_WINDOW = 1 minutes;
    uint32 public constant MAX_CLOSE_WINDOW = 7 days;

    bytes32 public constant RECEIPT_TYPEHASH =
        keccak256("Receipt(uint256 sessionId,uint32 tokens,uint96 amount,bytes32 digest)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("Fabstir Sessions");
    bytes32 private constant VERSION_HASH = keccak256("1");

    /// @dev The basis-point denominator: a discount is at most all of the fee.
    uint16 private constant BPS = 10_000;

    /// @dev `closeAt` of a settled session.
    uint32 private constant SETTLED = type(uint32).max;

    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    INodeRegistry public immutable registry;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IPaymentEscrow public immutable escrow;

    /// @dev Read by every open: one slot.
    struct Config {
        // Retired (ids are terms hashes now); kept so the storage layout stays compatible.
        uint64 nextSessionId;
        uint32 closeWindow;
        bool paused;
    }

    /// @custom:storage-location erc7201:fabstir.storage.SessionManager
    struct SessionManagerStorage {
        Config config;
        // Retired (the id is the terms' hash now); kept so the storage layout stays compatible.
        mapping(uint256 sessionId => bytes32) terms;
        mapping(uint256 sessionId => SessionState) states;
        // Appended (upgrade-safe).
        IReputationSystem reputation;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.SessionManager")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0xa460b482b20af2742789f7d80e24fe8aadf57c846b630654f447af12bc346c00;

    function _s() private pure returns (SessionManagerStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @param registry_ the NodeRegistry proxy (host eligibility and price).
    /// @param escrow_ the PaymentEscrow proxy (deposits and payouts).
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address registry_, address escrow_) {
        if (registry_ == address(0) || escrow_ == address(0)) revert SessionManagerZeroAddress();
        registry = INodeRegistry(registry_);
        escrow = IPaymentEscrow(escrow_);
        _disableInitializers();
    }

    /// @notice Initializes the proxy.
    /// @param admin receives DEFAULT_ADMIN_ROLE, PAUSER_ROLE and UPGRADER_ROLE.
    /// @param initialCloseWindow seconds the host has after a renter's close request or an expiry.
    function initialize(address admin, uint32 initialCloseWindow) external initializer {
        if (admin == address(0)) revert SessionManagerZeroAddress();
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _setCloseWindow(_s().config, initialCloseWindow);
    }

    // ---------------------------------------------------------------- renter

    /// @notice Opens a session and locks its deposit: send it as msg.value for ETH, or approve
    /// the escrow for an ERC-20.
    function openSession(SessionRequest calldata r) external payable nonReentrant returns (uint256 sessionId) {
        return _open(r);
    }

    /// @notice Opens an ERC-20 session, approving the escrow with an EIP-2612 permit first.
    function openSessionWithPermit(SessionRequest calldata r, uint256 permitDeadline, uint8 v, bytes32 rr, bytes32 s)
        external
        nonReentrant
        returns (uint256 sessionId)
    {
        if (r.token == address(0)) revert SessionManagerInvalidRequest("token");
        _permit(r.token, r.deposit, permitDeadline, v, rr, s);
        return _open(r);
    }

    /// @notice Adds `amount` to an open session's deposit (msg.value for ETH, else approved).
    function topUp(Session calldata t, uint256 sessionId, uint96 amount) external payable nonReentrant {
        _topUp(t, sessionId, amount);
    }

    /// @notice Tops up an ERC-20 session, approving the escrow with an EIP-2612 permit first.
    function topUpWithPermit(
        Session calldata t,
        uint256 sessionId,
        uint96 amount,
        uint256 permitDeadline,
        uint8 v,
        bytes32 rr,
        bytes32 s
    ) external nonReentrant {
        if (t.token == address(0)) revert SessionManagerInvalidRequest("token");
        _permit(t.token, amount, permitDeadline, v, rr, s);
        _topUp(t, sessionId, amount);
    }

    /// @notice Asks to close an open session: the host has `closeWindow` seconds to present a
    /// later receipt (or to close itself); then anyone may settle.
    function requestClose(Session calldata t, uint256 sessionId) external {
        SessionManagerStorage storage $ = _s();
        SessionState storage st = _state($, t, sessionId);
        if (msg.sender != t.renter) revert SessionManagerNotRenter(sessionId, msg.sender);
        uint32 closeAt = st.closeAt;
        if (closeAt != 0) revert SessionManagerInvalidState(sessionId, _status(closeAt));
        // Cannot overflow uint32 before 2106 (the window is at most 7 days).
        uint32 until = uint32(block.timestamp) + $.config.closeWindow;
        st.closeAt = until;
        emit SessionCloseRequested(sessionId, msg.sender, until);
    }

    // ---------------------------------------------------------------- host

    /// @notice Pays the host up to `receipt` (the increment over the last paid receipt), keeping
    /// the session open. Allowed until the session is settled, also while closing or expired.
    /// @param signature the renter's or the session signer's EIP-712 signature of `receipt`
    /// (65-byte ECDSA, or ERC-1271 for a contract account).
    function checkpoint(Session calldata t, uint256 sessionId, Receipt calldata receipt, bytes calldata signature)
        external
        nonReentrant
    {
        SessionManagerStorage storage $ = _s();
        SessionState storage st = _state($, t, sessionId);
        if (msg.sender != t.host) revert SessionManagerNotHost(sessionId, msg.sender);
        SessionState memory s = st;
        if (s.closeAt == SETTLED) revert SessionManagerInvalidState(sessionId, SessionStatus.Settled);
        uint256 increment = _apply(t, sessionId, s, receipt, signature);
        _store(st, s.deposit, receipt.amount, receipt.tokens, s.closeAt);
        emit SessionCheckpointed(sessionId, msg.sender, receipt.tokens, receipt.amount, increment, receipt.digest);
        escrow.pay(sessionId, msg.sender, increment, t.feeDiscountBps);
    }

    /// @notice Closes and settles the session at once, first applying `receipt` when
    /// `signature` is not empty: the host is paid up to the latest receipt, the renter
    /// refunded the rest.
    function closeSession(Session calldata t, uint256 sessionId, Receipt calldata receipt, bytes calldata signature)
        external
        nonReentrant
    {
        SessionManagerStorage storage $ = _s();
        SessionState storage st = _state($, t, sessionId);
        if (msg.sender != t.host) revert SessionManagerNotHost(sessionId, msg.sender);
        SessionState memory s = st;
        if (s.closeAt == SETTLED) revert SessionManagerInvalidState(sessionId, SessionStatus.Settled);
        uint256 increment;
        if (signature.length != 0) {
            increment = _apply(t, sessionId, s, receipt, signature);
            s.paid = receipt.amount;
            s.tokens = receipt.tokens;
            emit SessionCheckpointed(
                sessionId, msg.sender, receipt.tokens, receipt.amount, increment, receipt.digest
            );
        }
        _settle(st, s, t, sessionId, increment, CloseReason.Host);
    }

    // ---------------------------------------------------------------- anyone

    /// @notice Settles a session whose host window has passed: after the renter's close request,
    /// or after expiry. The host is paid nothing beyond the receipts it presented.
    function settle(Session calldata t, uint256 sessionId) external nonReentrant {
        SessionManagerStorage storage $ = _s();
        SessionState storage st = _state($, t, sessionId);
        SessionState memory s = st;
        if (s.closeAt == SETTLED) revert SessionManagerInvalidState(sessionId, SessionStatus.Settled);
        CloseReason reason;
        uint256 afterExpiry = uint256(t.expiry) + $.config.closeWindow;
        if (s.closeAt != 0 && block.timestamp >= s.closeAt) {
            reason = CloseReason.Renter;
        } else if (block.timestamp >= afterExpiry) {
            reason = CloseReason.Expired;
        } else {
            uint256 until = s.closeAt != 0 && s.closeAt < afterExpiry ? s.closeAt : afterExpiry;
            revert SessionManagerCloseWindowOpen(sessionId, uint64(until));
        }
        _settle(st, s, t, sessionId, 0, reason);
    }

    // ---------------------------------------------------------------- admin

    /// @notice Sets the host's window after a close request or an expiry, for requests made from now on.
    function setCloseWindow(uint32 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setCloseWindow(_s().config, window);
    }

    /// @notice Sets the reputation system that records settled sessions, holds minimum scores and
    /// gives the host's fee discount fixed at each opening (address(0): none; then minimum
    /// scores cannot be met and sessions open without a discount). The escrow's own
    /// fee-discount source (PaymentEscrow.setFeeDiscounts) applies to jobs only.
    function setReputation(address reputation_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        SessionManagerStorage storage $ = _s();
        emit ReputationUpdated(address($.reputation), reputation_);
        $.reputation = IReputationSystem(reputation_);
    }

    /// @notice The reputation system in use (address(0): none).
    function reputation() external view returns (address) {
        return address(_s().reputation);
    }

    /// @notice Stops opening and topping up sessions. Checkpoints, closes and settlements stay
    /// open so no renter's or host's money is held hostage.
    function pause() external onlyRole(PAUSER_ROLE) {
        _s().config.paused = true;
        emit SessionsPaused(msg.sender);
    }

    /// @notice Resumes opening and topping up: governance only (the guardian cannot unpause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _s().config.paused = false;
        emit SessionsUnpaused(msg.sender);
    }

    // ---------------------------------------------------------------- views

    /// @notice A session's status and state (all zero, status None, for an unknown id).
    function sessionState(uint256 sessionId) external view returns (SessionStatus status, SessionState memory state) {
        state = _s().states[sessionId];
        // Every opened session has a deposit (at least one token's price) for good.
        if (state.deposit == 0) return (SessionStatus.None, state);
        return (_status(state.closeAt), state);
    }

    /// @notice The hash of a session's terms: the id itself for an opened session, zero for an
    /// unknown id.
    function termsHash(uint256 sessionId) external view returns (bytes32) {
        return _s().states[sessionId].deposit == 0 ? bytes32(0) : bytes32(sessionId);
    }

    /// @notice keccak256(abi.encode(terms)): the id of the session opened with them.
    function hashTerms(Session calldata t) external pure returns (bytes32) {
        return keccak256(abi.encode(t));
    }

    /// @notice The EIP-712 digest a receipt's signer signs.
    function receiptDigest(Receipt calldata r) external view returns (bytes32) {
        return _receiptDigest(r);
    }

    /// @notice The EIP-712 domain separator (this chain, this contract).
    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @notice The EIP-712 domain (ERC-5267), for wallets and clients.
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"0f", "Fabstir Sessions", "1", block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    /// @notice Seconds the host has after a close request or an expiry.
    function closeWindow() external view returns (uint32) {
        return _s().config.closeWindow;
    }

    /// @notice Whether opening and topping up are stopped.
    function paused() external view returns (bool) {
        return _s().config.paused;
    }

    // ---------------------------------------------------------------- internals

    function _open(SessionRequest calldata r) private returns (uint256 sessionId) {
        SessionManagerStorage storage $ = _s();
        if ($.config.paused) revert SessionManagerPaused();
        // Each read of a calldata member is a load and a validation: read each once.
        address host = r.host;
        bytes32 modelId = r.modelId;
        address token = r.token;
        uint96 deposit = r.deposit;
        uint64 expiry = r.expiry;
        uint16 minScore = r.minScore;
        if (modelId == bytes32(0)) revert SessionManagerInvalidRequest("modelId");
        if (host == msg.sender || host == address(0)) revert SessionManagerInvalidRequest("host");
        if (expiry <= block.timestamp || expiry > block.timestamp + MAX_SESSION_DURATION) {
            revert SessionManagerInvalidRequest("expiry");
        }
        (uint64 price, uint256 stake) = registry.checkEligible(host, keccak256(abi.encode(modelId, token)));
        if (price > r.maxPricePerToken) revert SessionManagerPriceTooHigh(price, r.maxPricePerToken);
        // At least one token's worth, so an open session can always serve something.
        if (deposit < price) revert SessionManagerInvalidRequest("deposit");
        uint16 discount;
        IReputationSystem rep = $.reputation;
        if (address(rep) != address(0)) {
            discount = _feeDiscount(rep, host, stake);
            if (minScore != 0) {
                uint16 score = rep.scoreOf(host);
                if (score < minScore) revert SessionManagerScoreTooLow(host, score, minScore);
            }
        } else if (minScore != 0) {
            revert SessionManagerScoreTooLow(host, 0, minScore);
        }
        address signer = r.signer;
        uint64 salt = r.salt;
        sessionId = _termsHash(msg.sender, host, token, signer, modelId, price, expiry, discount, salt);
        SessionState storage st = $.states[sessionId];
        if (st.deposit != 0) revert SessionManagerSessionExists(sessionId);
        _store(st, deposit, 0, 0, 0);
        emit SessionOpened(sessionId, msg.sender, host, modelId, token, signer, price, deposit, expiry, discount, salt);
        escrow.lock{value: msg.value}(sessionId, msg.sender, token, deposit);
    }

    /// @dev uint256(keccak256(abi.encode(Session(...)))) of these terms, hashed where they are
    /// written instead of building the struct in memory and copying it into an encoding (every
    /// member of Session is a static type, so its encoding is the nine words in order).
    function _termsHash(
        address renter,
        address host,
        address token,
        address signer,
        bytes32 modelId,
        uint64 pricePerToken,
        uint64 expiry,
        uint16 feeDiscountBps,
        uint64 salt
    ) private pure returns (uint256 id) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            let addressMask := shr(96, not(0))
            mstore(m, and(renter, addressMask))
            mstore(add(m, 0x20), and(host, addressMask))
            mstore(add(m, 0x40), and(token, addressMask))
            mstore(add(m, 0x60), and(signer, addressMask))
            mstore(add(m, 0x80), modelId)
            mstore(add(m, 0xa0), and(pricePerToken, 0xffffffffffffffff))
            mstore(add(m, 0xc0), and(expiry, 0xffffffffffffffff))
            mstore(add(m, 0xe0), and(feeDiscountBps, 0xffff))
            mstore(add(m, 0x100), and(salt, 0xffffffffffffffff))
            id := keccak256(m, 0x120)
        }
    }

    function _topUp(Session calldata t, uint256 sessionId, uint96 amount) private {
        SessionManagerStorage storage $ = _s();
        if ($.config.paused) revert SessionManagerPaused();
        SessionState storage st = _state($, t, sessionId);
        if (msg.sender != t.renter) revert SessionManagerNotRenter(sessionId, msg.sender);
        SessionState memory s = st;
        if (s.closeAt != 0) revert SessionManagerInvalidState(sessionId, _status(s.closeAt));
        if (block.timestamp > t.expiry) revert SessionManagerExpired(sessionId, t.expiry);
        if (amount == 0) revert SessionManagerInvalidRequest("amount");
        // The escrow bounds every lock to uint96; checked here before the narrowing store.
        uint256 deposit = uint256(s.deposit) + amount;
        if (deposit > type(uint96).max) revert SessionManagerInvalidRequest("amount");
        st.deposit = uint96(deposit);
        emit SessionToppedUp(sessionId, amount, deposit);
        // A session whose receipts spent its whole deposit has no lock left in the escrow.
        if (s.deposit == s.paid) escrow.lock{value: msg.value}(sessionId, msg.sender, t.token, amount);
        else escrow.topUp{value: msg.value}(sessionId, msg.sender, t.token, amount);
    }

    /// @dev Checks `receipt` against the session and returns the increment it pays.
    function _apply(
        Session calldata t,
        uint256 sessionId,
        SessionState memory s,
        Receipt calldata receipt,
        bytes calldata signature
    ) private view returns (uint256 increment) {
        if (receipt.sessionId != sessionId) {
            revert SessionManagerReceiptForOtherSession(sessionId, receipt.sessionId);
        }
        if (receipt.amount <= s.paid || receipt.tokens < s.tokens) {
            revert SessionManagerStaleReceipt(sessionId, s.paid, receipt.amount);
        }
        if (receipt.amount > s.deposit) {
            revert SessionManagerReceiptExceedsDeposit(sessionId, receipt.amount, s.deposit);
        }
        if (!_signedByRenter(t, _receiptDigest(receipt), signature)) revert SessionManagerBadSignature(sessionId);
        return receipt.amount - s.paid;
    }

    /// @dev Whether the renter or the session's signer signed `digest`: one ecrecover for
    /// EOAs, ERC-1271 for contract accounts.
    function _signedByRenter(Session calldata t, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered != address(0)) {
            if (recovered == t.renter || recovered == t.signer) return true;
        }
        if (t.renter.code.length != 0 && SignatureChecker.isValidERC1271SignatureNowCalldata(t.renter, digest, signature)) {
            return true;
        }
        return t.signer != address(0) && t.signer.code.length != 0
            && SignatureChecker.isValidERC1271SignatureNowCalldata(t.signer, digest, signature);
    }

    /// @dev Pays `increment`, refunds the rest of the deposit and marks the session settled.
    function _settle(
        SessionState storage st,
        SessionState memory s,
        Session calldata t,
        uint256 sessionId,
        uint256 increment,
        CloseReason reason
    ) private {
        uint256 refund = uint256(s.deposit) - s.paid;
        _store(st, s.deposit, s.paid, s.tokens, SETTLED);
        emit SessionSettled(sessionId, msg.sender, reason, s.tokens, s.paid, refund);
        if (refund != 0) {
            escrow.releaseAt(sessionId, t.host, t.renter, increment, t.feeDiscountBps);
        } else if (increment != 0) {
            // The last receipt spends the whole deposit: the lock is paid down to zero (closed).
            escrow.pay(sessionId, t.host, increment, t.feeDiscountBps);
        }
        // A session that paid for something is work delivered; an unused one is not recorded.
        IReputationSystem rep = _s().reputation;
        if (s.paid != 0 && address(rep) != address(0)) {
            rep.recordWork(IReputationSystem.Work.Session, sessionId, t.host, t.renter, s.paid, s.tokens, 0);
        }
    }

    /// @dev The host's fee discount for a session opened now. A failing, gas-hungry or malformed
    /// reputation system never blocks opening: the session then has no discount (as the
    /// escrow treats a failing discount source on a job's payment).
    function _feeDiscount(IReputationSystem rep, address host, uint256 stake) private view returns (uint16) {
        bytes4 selector = IReputationSystem.feeDiscountAt.selector;
        bool ok;
        uint256 discount;
        // Only a 32-byte answer is read back, into scratch space: a longer one (malformed) is
        // never copied into memory.
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, selector)
            mstore(add(m, 0x04), and(host, shr(96, not(0))))
            mstore(add(m, 0x24), stake)
            ok := staticcall(100000, rep, m, 0x44, 0x00, 0x20)
            ok := and(ok, eq(returndatasize(), 0x20))
            discount := mload(0x00)
        }
        if (!ok) return 0;
        // The escrow bounds it further (to MAX_FEE_DISCOUNT_BPS) at each payment.
        return discount > BPS ? BPS : uint16(discount);
    }

    /// @dev Writes a session's whole state slot at once: member by member, the compiler reads and
    /// writes the slot once per member (about 200 gas a member). The word is packed as the
    /// compiler packs SessionState: deposit in the lowest 96 bits, then paid, tokens, closeAt.
    function _store(SessionState storage st, uint96 deposit, uint96 paid, uint32 tokens, uint32 closeAt) private {
        uint256 word = uint256(deposit) | uint256(paid) << 96 | uint256(tokens) << 192 | uint256(closeAt) << 224;
        assembly ("memory-safe") {
            sstore(st.slot, word)
        }
    }

    /// @dev The state of a session whose terms are `t`; reverts for an unknown id or wrong terms.
    function _state(SessionManagerStorage storage $, Session calldata t, uint256 sessionId)
        private
        view
        returns (SessionState storage)
    {
        if (uint256(keccak256(abi.encode(t))) != sessionId) revert SessionManagerWrongTerms(sessionId);
        SessionState storage st = $.states[sessionId];
        if (st.deposit == 0) revert SessionManagerUnknownSession(sessionId);
        return st;
    }

    function _receiptDigest(Receipt calldata r) private view returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(RECEIPT_TYPEHASH, r.sessionId, r.tokens, r.amount, r.digest));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _status(uint32 closeAt) private pure returns (SessionStatus) {
        if (closeAt == 0) return SessionStatus.Open;
        return closeAt == SETTLED ? SessionStatus.Settled : SessionStatus.Closing;
    }

    function _permit(address token, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        // A front-runner may have used this permit already; the allowance is what matters.
        try IERC20Permit(token).permit(msg.sender, address(escrow), amount, deadline, v, r, s) {} catch {}
    }

    function _setCloseWindow(Config storage c, uint32 window) private {
        if (window < MIN_CLOSE_WINDOW || window > MAX_CLOSE_WINDOW) revert SessionManagerInvalidCloseWindow(window);
        emit CloseWindowUpdated(c.closeWindow, window);
        c.closeWindow = window;
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
