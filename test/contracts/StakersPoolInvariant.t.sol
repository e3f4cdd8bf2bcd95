// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {PaymentEscrow} from "../../contracts/escrow/PaymentEscrow.sol";
import {FabstirProxy} from "../../contracts/proxy/FabstirProxy.sol";
import {TestStablecoin} from "../../contracts/test/TestStablecoin.sol";
import {FABToken} from "../../contracts/token/FABToken.sol";
import {IStakersPool} from "../../contracts/tokenomics/IStakersPool.sol";
import {StakersPool} from "../../contracts/tokenomics/StakersPool.sol";
import {ModelCheckedHandler} from "./ModelCheckedHandler.sol";

/// @notice Deploys FAB, the StakersPool and a PaymentEscrow paying it, each behind a FabstirProxy
/// as the Ignition module does, wired the way production is (the pool holds CUSTODIAN_ROLE on FAB
/// and collects the escrow's stakers' fees).
abstract contract StakersPoolSetup is Test {
    uint256 internal constant FAB_UNIT = 1e18;
    uint256 internal constant USD = 1e6;
    uint256 internal constant FAB_SUPPLY = 1_000_000_000 * FAB_UNIT;
    uint256 internal constant PRECISION = 1e36;
    uint16 internal constant BPS = 10_000;
    uint256 internal constant START_TIME = 1_750_000_000;
    address internal constant ETH = address(0);

    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");

    FABToken internal fab;
    StakersPool internal pool;
    PaymentEscrow internal escrow;
    TestStablecoin internal usd;

    function _deploy() internal {
        vm.warp(START_TIME);
        fab = FABToken(
            address(
                new FabstirProxy(
                    address(new FABToken()), abi.encodeCall(FABToken.initialize, (admin, admin, FAB_SUPPLY))
                )
            )
        );
        // The pool comes first with no escrow, as the escrow is initialized with the pool's address.
        pool = StakersPool(
            payable(
                address(
                    new FabstirProxy(
                        address(new StakersPool()),
                        abi.encodeCall(StakersPool.initialize, (admin, address(fab), address(0)))
                    )
                )
            )
        );
        escrow = PaymentEscrow(
            address(
                new FabstirProxy(
                    address(new PaymentEscrow()),
                    abi.encodeCall(PaymentEscrow.initialize, (admin, treasury, address(pool)))
                )
            )
        );
        usd = new TestStablecoin();
        bytes32 custodian = fab.CUSTODIAN_ROLE();
        vm.startPrank(admin);
        fab.grantRole(custodian, address(pool));
        pool.setEscrow(address(escrow));
        pool.addRewardToken(address(usd));
        pool.addRewardToken(address(fab));
        escrow.setTokenAllowed(address(usd), true);
        escrow.setTokenAllowed(address(fab), true);
        vm.stopPrank();
    }

    /// @dev Gives `who` `amount` FAB and approves the pool for all of it.
    function _fundFab(address who, uint256 amount) internal {
        vm.prank(admin);
        fab.transfer(who, amount);
        vm.prank(who);
        fab.approve(address(pool), type(uint256).max);
    }

    function _balanceOf(address token, address who) internal view returns (uint256) {
        return token == ETH ? who.balance : TestStablecoin(token).balanceOf(who);
    }
}

/// @notice Drives staking with random tiers, withdrawals after warps, registry stake reports,
/// fees paid through a real PaymentEscrow (ETH, a stablecoin and FAB), direct transfers, syncs,
/// claims, pauses and governance changes, against a model of every position and of each
/// account's fair share of every sync. Mismatches are recorded, never reverted (the fuzzer ignores
/// reverts).
contract StakersPoolHandler is ModelCheckedHandler {
    uint256 internal constant PRECISION = 1e36;
    uint16 internal constant BPS = 10_000;
    address internal constant ETH = address(0);
    uint256 internal constant ACTORS = 4;

    StakersPool public immutable pool;
    PaymentEscrow public immutable escrow;
    FABToken public immutable fab;
    TestStablecoin public immutable usd;
    /// A token that is never a reward token (syncs and claims of it must revert).
    TestStablecoin public immutable stray;
    address public immutable admin;
    address public immutable guardian;
    address public immutable payee = makeAddr("payee");
    address public immutable sink = makeAddr("claimSink");

    address[ACTORS] internal actors;
    /// actors first, then the two observers staked in setUp (never touched afterwards).
    address[] internal accounts;
    address[3] internal tokens;

    struct GhostPosition {
        uint256 amount;
        uint256 shares;
        uint64 lockEnd;
    }

    struct GhostTier {
        uint64 duration;
        uint16 multiplierBps;
    }

    mapping(address account => mapping(uint8 tier => GhostPosition)) internal positions;
    mapping(address account => uint256) public hostShares;
    mapping(address account => uint256) public modelShares;
    GhostTier[] internal tiers;
    uint16 public hostMultiplier = BPS;

    /// Per token: sent straight to the pool, and credited to the stakers in the escrow.
    mapping(address token => uint256) public direct;
    mapping(address token => uint256) public feesAccrued;
    mapping(address account => mapping(address token => uint256)) public claimed;
    /// Each account's exact share of every sync (shares × increment, rounded down per sync), and
    /// the rounding the contract may lose against it (a few wei per share change, claim or sync).
    mapping(address account => mapping(address token => uint256)) public fairShare;
    mapping(address account => uint256) public roundingAllowance;
    uint256 public syncs;

    uint256 public time;
    uint256 internal lockId;
    bool public poolPaused;
    bool public escrowPaused;

    constructor(
        StakersPool pool_,
        PaymentEscrow escrow_,
        FABToken fab_,
        TestStablecoin usd_,
        address admin_,
        address guardian_,
        address[ACTORS] memory actors_,
        address[2] memory observers
    ) {
        pool = pool_;
        escrow = escrow_;
        fab = fab_;
        usd = usd_;
        stray = new TestStablecoin();
        admin = admin_;
        guardian = guardian_;
        actors = actors_;
        for (uint256 i; i < ACTORS; ++i) {
            accounts.push(actors_[i]);
        }
        accounts.push(observers[0]);
        accounts.push(observers[1]);
        tokens = [ETH, address(usd_), address(fab_)];
        time = block.timestamp;
        for (uint8 t; t < pool_.lockTierCount(); ++t) {
            (uint64 d, uint16 m) = pool_.lockTier(t);
            tiers.push(GhostTier(d, m));
        }
        fab_.approve(address(escrow_), type(uint256).max);
        usd_.approve(address(escrow_), type(uint256).max);
    }

    modifier tick() {
        vm.warp(time);
        _;
    }

    // ---------------------------------------------------------------- views for the invariants

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    function account(uint256 i) external view returns (address) {
        return accounts[i];
    }

    function token(uint256 i) external view returns (address) {
        return tokens[i];
    }

    function position(address a, uint8 tier) external view returns (GhostPosition memory) {
        return positions[a][tier];
    }

    function tierCount() external view returns (uint8) {
        return uint8(tiers.length);
    }

    /// @notice What reached the pool in `token`: direct transfers plus the escrow fees collected.
    function delivered(address t) public view returns (uint256) {
        (, uint256 uncollected) = escrow.feesOf(t);
        return direct[t] + feesAccrued[t] - uncollected;
    }

    /// @notice Observers stake once, before any reward (called from setUp).
    function observe(address observer, uint256 amount, uint8 tier) external {
        vm.prank(observer);
        pool.stake(amount, tier);
        uint256 s = amount * tiers[tier].multiplierBps / BPS;
        positions[observer][tier] = GhostPosition(amount, s, uint64(time) + tiers[tier].duration);
        modelShares[observer] += s;
    }

    // ---------------------------------------------------------------- internals

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % ACTORS];
    }

    function _token(uint256 seed) internal view returns (address) {
        return tokens[seed % 3];
    }

    /// @dev Before an account's shares change: its fair share so far is settled by the contract
    /// with at most two wei of rounding per token.
    function _sharesChanging(address a) internal {
        roundingAllowance[a] += 2;
    }

    function _checkShares(address a) internal {
        if (pool.sharesOf(a) != modelShares[a]) _violate("shares differ from the model", "");
    }

    function _accs() internal view returns (uint256[3] memory accs) {
        for (uint256 k; k < 3; ++k) {
            accs[k] = pool.accRewardPerShare(tokens[k]);
        }
    }

    /// @dev Credits every account (at the model's shares, so call this before changing them) its
    /// exact share of what the syncs since `before` distributed.
    function _credit(uint256[3] memory before) internal {
        for (uint256 k; k < 3; ++k) {
            uint256 increment = pool.accRewardPerShare(tokens[k]) - before[k];
            if (increment == 0) continue;
            ++syncs;
            for (uint256 i; i < accounts.length; ++i) {
                address a = accounts[i];
                fairShare[a][tokens[k]] += modelShares[a] * increment / PRECISION;
            }
        }
    }

    /// @dev After a sync of `t` over `total` shares: the escrow's fees were collected (unless it
    /// is paused) and everything that arrived is booked (the dust is below one wei, as
    /// PRECISION / total > 1).
    function _checkSynced(address t, uint256 total) internal {
        (, uint256 uncollected) = escrow.feesOf(t);
        if (!escrowPaused && uncollected != 0) _violate("sync: escrow fees left uncollected", "");
        if (total == 0) return;
        uint256 committed = pool.unclaimedRewards(t) + (t == address(fab) ? pool.totalStaked() : 0);
        uint256 balance = t == ETH ? address(pool).balance : TestStablecoin(t).balanceOf(address(pool));
        if (balance != committed) _violate("sync: arrivals left unbooked", "");
    }

    // ---------------------------------------------------------------- staking

    function stake(uint256 actorSeed, uint256 amountSeed, uint256 tierSeed) external tick {
        address a = _actor(actorSeed);
        uint8 tier = uint8(tierSeed % 8 == 0 ? tiers.length : tierSeed % tiers.length);
        uint256 balance = fab.balanceOf(a);
        uint256 amount;
        uint256 mode = amountSeed % 8;
        if (mode == 0) amount = 0;
        else if (mode == 1) amount = bound(amountSeed >> 3, 1, 1_000);
        else amount = bound(amountSeed >> 3, 1, balance == 0 ? 1 : balance);
        bool expectOk = amount != 0 && tier < tiers.length && !poolPaused && amount <= balance;
        uint256 votesBefore = fab.getVotes(a);
        uint256[3] memory accs = _accs();
        uint256 total = pool.totalShares();
        if (expectOk) _sharesChanging(a);
        vm.prank(a);
        (bool ok, bytes memory err) = address(pool).call(abi.encodeCall(pool.stake, (amount, tier)));
        _record("stake", expectOk, ok, err);
        if (!ok || !expectOk) return;
        // A stake syncs every reward token first, at the shares before it.
        _credit(accs);
        for (uint256 k; k < 3; ++k) {
            _checkSynced(tokens[k], total);
        }
        GhostTier memory t = tiers[tier];
        GhostPosition storage p = positions[a][tier];
        uint256 added = amount * t.multiplierBps / BPS;
        p.amount += amount;
        p.shares += added;
        uint64 end = uint64(time) + t.duration;
        if (end > p.lockEnd) p.lockEnd = end;
        modelShares[a] += added;
        _checkShares(a);
        if (fab.getVotes(a) != votesBefore) _violate("stake: votes moved", "");
        if (fab.balanceOf(a) != balance - amount) _violate("stake: wrong FAB taken", "");
    }

    /// Withdraws from a non-empty position (one time in eight any tier); half the time waits for
    /// the lock end first.
    function withdraw(uint256 actorSeed, uint256 tierSeed, uint256 amountSeed) external tick {
        address a = _actor(actorSeed);
        uint8 tier = uint8(tierSeed % tiers.length);
        if (tierSeed % 8 != 0) {
            for (uint8 i; i < tiers.length; ++i) {
                uint8 t = uint8((tierSeed + i) % tiers.length);
                if (positions[a][t].amount != 0) {
                    tier = t;
                    break;
                }
            }
        }
        GhostPosition storage p = positions[a][tier];
        if ((tierSeed >> 8) % 2 == 0 && time < p.lockEnd) {
            time = p.lockEnd;
            vm.warp(time);
        }
        uint256 amount;
        uint256 mode = amountSeed % 8;
        if (mode == 0) amount = 0;
        else if (mode == 1) amount = p.amount + 1;
        else if (mode < 5) amount = p.amount;
        else amount = bound(amountSeed >> 3, 1, p.amount == 0 ? 1 : p.amount);
        bool expectOk = amount != 0 && amount <= p.amount && time >= p.lockEnd;
        uint256 before = fab.balanceOf(a);
        uint256 votesBefore = fab.getVotes(a);
        uint256[3] memory accs = _accs();
        uint256 total = pool.totalShares();
        if (expectOk) _sharesChanging(a);
        vm.prank(a);
        (bool ok, bytes memory err) = address(pool).call(abi.encodeCall(pool.withdraw, (tier, amount)));
        _record("withdraw", expectOk, ok, err);
        if (!ok || !expectOk) return;
        // Unless paused, a withdrawal syncs every reward token first, at the old shares.
        _credit(accs);
        if (!poolPaused) {
            for (uint256 k; k < 3; ++k) {
                _checkSynced(tokens[k], total);
            }
        }
        uint256 remaining = p.amount - amount;
        uint256 remainingShares = p.shares * remaining / p.amount;
        modelShares[a] -= p.shares - remainingShares;
        p.shares = remainingShares;
        p.amount = remaining;
        if (remaining == 0) p.lockEnd = 0;
        _checkShares(a);
        if (fab.balanceOf(a) != before + amount) _violate("withdraw: wrong FAB returned", "");
        if (fab.getVotes(a) != votesBefore) _violate("withdraw: votes moved", "");
    }

    /// The registry (this handler) reports a host's active stake; one time in eight a stranger
    /// tries, which must revert.
    function reportHostStake(uint256 actorSeed, uint256 stakeSeed) external tick {
        address a = _actor(actorSeed);
        uint256 s = stakeSeed % 4 == 0 ? 0 : bound(stakeSeed >> 2, 1, 50_000e18);
        bool stranger = (actorSeed >> 8) % 8 == 0;
        uint256[3] memory accs = _accs();
        uint256 total = pool.totalShares();
        if (!stranger) _sharesChanging(a);
        if (stranger) vm.prank(a);
        (bool ok, bytes memory err) = address(pool).call(abi.encodeCall(pool.onHostStakeChanged, (a, s)));
        _record("onHostStakeChanged", !stranger, ok, err);
        if (!ok || stranger) return;
        // Unless paused, a host's stake change syncs every reward token first, at the old shares.
        _credit(accs);
        if (!poolPaused) {
            for (uint256 k; k < 3; ++k) {
                _checkSynced(tokens[k], total);
            }
        }
        uint256 hs = s * hostMultiplier / BPS;
        modelShares[a] = modelShares[a] - hostShares[a] + hs;
        hostShares[a] = hs;
        _checkShares(a);
        if (pool.hostStakeOf(a) != s) _violate("hostStakeOf differs", "");
    }

    // ---------------------------------------------------------------- rewards

    /// A locker (this handler) locks a deposit and releases a payment through the escrow, which
    /// credits the stakers' share to the pool's uncollected fees.
    function payFees(uint256 tokenSeed, uint256 amountSeed) external tick {
        address t = _token(tokenSeed);
        uint256 amount;
        if (amountSeed % 4 == 0) amount = bound(amountSeed >> 2, 1, 1_000);
        else if (t == ETH) amount = bound(amountSeed >> 2, 1, 100 ether);
        else if (t == address(usd)) amount = bound(amountSeed >> 2, 1, 1_000_000e6);
        else amount = bound(amountSeed >> 2, 1, 100_000e18);
        uint256 id = ++lockId;
        bool ok;
        bytes memory err;
        if (t == ETH) {
            vm.deal(address(this), amount);
            (ok, err) = address(escrow).call{value: amount}(abi.encodeCall(escrow.lock, (id, address(this), t, amount)));
        } else {
            if (t == address(usd)) usd.mint(address(this), amount);
            (ok, err) = address(escrow).call(abi.encodeCall(escrow.lock, (id, address(this), t, amount)));
        }
        _record("escrow.lock", true, ok, err);
        if (!ok) return;
        (, uint256 before) = escrow.feesOf(t);
        (ok, err) = address(escrow).call(abi.encodeCall(escrow.release, (id, payee, address(this), amount)));
        _record("escrow.release", true, ok, err);
        if (!ok) return;
        (, uint256 afterFees) = escrow.feesOf(t);
        feesAccrued[t] += afterFees - before;
    }

    /// Anyone (here: the treasury's buyback, a donor) sends reward tokens straight to the pool.
    function sendDirect(uint256 tokenSeed, uint256 amountSeed) external tick {
        address t = _token(tokenSeed);
        uint256 amount = amountSeed % 4 == 0 ? bound(amountSeed >> 2, 1, 1_000) : bound(amountSeed >> 2, 1, 10e18);
        bool ok;
        bytes memory err;
        if (t == ETH) {
            vm.deal(address(this), amount);
            (ok, err) = address(pool).call{value: amount}("");
        } else {
            if (t == address(usd)) usd.mint(address(this), amount);
            (ok, err) = t.call(abi.encodeCall(usd.transfer, (address(pool), amount)));
        }
        _record("sendDirect", true, ok, err);
        if (ok) direct[t] += amount;
    }

    /// Syncs a reward token (one time in eight the stray token, which must revert) and credits
    /// every account its exact share of the increment.
    function sync(uint256 tokenSeed) external tick {
        address t = tokenSeed % 8 == 0 ? address(stray) : _token(tokenSeed);
        bool listed = t != address(stray);
        bool expectOk = listed && !poolPaused;
        uint256[3] memory accs = _accs();
        uint256 total = pool.totalShares();
        (bool ok, bytes memory err) = address(pool).call(abi.encodeCall(pool.sync, (t)));
        _record("sync", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (total == 0 && pool.accRewardPerShare(t) != accs[tokenSeed % 3]) {
            _violate("sync: distributed with no shares", "");
        }
        _credit(accs);
        _checkSynced(t, total);
    }

    /// Claims a random subset of the reward tokens to the actor or to another address.
    function claim(uint256 actorSeed, uint256 maskSeed) external tick {
        address a = _actor(actorSeed);
        address to = (maskSeed >> 3) % 4 == 0 ? sink : a;
        uint256 mask = maskSeed % 8;
        uint256 n;
        for (uint256 i; i < 3; ++i) {
            if (mask & (1 << i) != 0) ++n;
        }
        address[] memory list = new address[](n);
        uint256[] memory expected = new uint256[](3);
        uint256[] memory before = new uint256[](3);
        n = 0;
        for (uint256 i; i < 3; ++i) {
            if (mask & (1 << i) == 0) continue;
            list[n++] = tokens[i];
            expected[i] = pool.pendingRewards(a, tokens[i]);
            before[i] = tokens[i] == ETH ? to.balance : TestStablecoin(tokens[i]).balanceOf(to);
        }
        vm.prank(a);
        (bool ok, bytes memory err) = address(pool).call(abi.encodeCall(pool.claim, (list, to)));
        _record("claim", true, ok, err);
        if (!ok) return;
        for (uint256 i; i < 3; ++i) {
            if (mask & (1 << i) == 0) continue;
            address t = tokens[i];
            uint256 got = (t == ETH ? to.balance : TestStablecoin(t).balanceOf(to)) - before[i];
            if (got != expected[i]) _violate("claim: paid other than pendingRewards", "");
            if (pool.pendingRewards(a, t) != 0) _violate("claim: rewards left pending", "");
            claimed[a][t] += got;
        }
    }

    // ---------------------------------------------------------------- pause and governance

    /// The guardian pauses the pool one time in eight; governance unpauses it (and one time in
    /// four the guardian tries to, which must revert).
    function togglePoolPause(uint256 seed) external tick {
        bool ok;
        bytes memory err;
        if (!poolPaused) {
            if (seed % 8 != 0) return;
            vm.prank(guardian);
            (ok, err) = address(pool).call(abi.encodeCall(pool.pause, ()));
            _record("pool.pause", true, ok, err);
            if (ok) poolPaused = true;
            return;
        }
        bool byGuardian = seed % 4 == 0;
        vm.prank(byGuardian ? guardian : admin);
        (ok, err) = address(pool).call(abi.encodeCall(pool.unpause, ()));
        _record("pool.unpause", !byGuardian, ok, err);
        if (ok && !byGuardian) poolPaused = false;
    }

    /// Pauses the escrow one time in eight, or resumes it: a sync then still distributes what
    /// already arrived.
    function toggleEscrowPause(uint256 seed) external tick {
        if (!escrowPaused && seed % 8 != 0) return;
        vm.prank(admin);
        (bool ok, bytes memory err) =
            address(escrow).call(escrowPaused ? abi.encodeCall(escrow.unpause, ()) : abi.encodeCall(escrow.pause, ()));
        _record("escrow.togglePause", true, ok, err);
        if (ok) escrowPaused = !escrowPaused;
    }

    /// Governance changes a lock tier (one time in eight out of bounds, which must revert).
    function setLockTier(uint256 tierSeed, uint256 durationSeed, uint256 multiplierSeed) external tick {
        uint8 tier = uint8(1 + tierSeed % 6);
        uint64 duration = durationSeed % 8 == 0
            ? uint64(bound(durationSeed >> 3, 0, type(uint64).max))
            : uint64(bound(durationSeed >> 3, 1, 365 days));
        uint16 multiplier = multiplierSeed % 8 == 0
            ? uint16(bound(multiplierSeed >> 3, 0, type(uint16).max))
            : uint16(bound(multiplierSeed >> 3, BPS, 30_000));
        bool expectOk = tier <= tiers.length && tier < 6 && duration != 0 && duration <= 4 * 365 days
            && multiplier >= BPS && multiplier <= 30_000;
        vm.prank(admin);
        (bool ok, bytes memory err) =
            address(pool).call(abi.encodeCall(pool.setLockTier, (tier, duration, multiplier)));
        _record("setLockTier", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (tier == tiers.length) tiers.push(GhostTier(duration, multiplier));
        else tiers[tier] = GhostTier(duration, multiplier);
    }

    /// Governance changes the host multiplier (one time in eight out of bounds).
    function setHostMultiplier(uint256 seed) external tick {
        uint16 multiplier = seed % 8 == 0
            ? uint16(bound(seed >> 3, 0, type(uint16).max))
            : uint16(bound(seed >> 3, BPS, 20_000));
        bool expectOk = multiplier >= BPS && multiplier <= 20_000;
        vm.prank(admin);
        (bool ok, bytes memory err) = address(pool).call(abi.encodeCall(pool.setHostMultiplier, (multiplier)));
        _record("setHostMultiplier", expectOk, ok, err);
        if (ok && expectOk) hostMultiplier = multiplier;
    }

    function warp(uint256 secondsSeed) external {
        time += bound(secondsSeed, 1 minutes, 40 days);
        vm.warp(time);
    }

    receive() external payable {}
}

/// @notice Invariants of the StakersPool's reward and stake accounting under random sequences.
contract StakersPoolInvariantTest is StakersPoolSetup {
    uint256 internal constant ACTOR_FAB = 100_000 * FAB_UNIT;
    uint256 internal constant OBSERVER_FAB = 5_000 * FAB_UNIT;

    StakersPoolHandler internal handler;
    address internal guardian = makeAddr("guardian");
    /// Stake equal FAB once, before any reward, at 2x (tier 3) and 1x (tier 0).
    address internal observer2x = makeAddr("observer2x");
    address internal observer1x = makeAddr("observer1x");

    function setUp() public {
        _deploy();
        address[4] memory actors = [makeAddr("actor0"), makeAddr("actor1"), makeAddr("actor2"), makeAddr("actor3")];
        handler = new StakersPoolHandler(
            pool, escrow, fab, usd, admin, guardian, actors, [observer2x, observer1x]
        );
        bytes32 pauser = pool.PAUSER_ROLE();
        vm.startPrank(admin);
        pool.grantRole(pauser, guardian);
        pool.setRegistry(address(handler));
        escrow.setLocker(address(handler), true);
        fab.transfer(address(handler), 100_000_000 * FAB_UNIT);
        vm.stopPrank();
        for (uint256 i; i < 4; ++i) {
            _fundFab(actors[i], ACTOR_FAB);
            // Delegated, so the handler can check that staking never moves votes.
            vm.prank(actors[i]);
            fab.delegate(actors[i]);
        }
        _fundFab(observer2x, OBSERVER_FAB);
        _fundFab(observer1x, OBSERVER_FAB);
        handler.observe(observer2x, OBSERVER_FAB, 3);
        handler.observe(observer1x, OBSERVER_FAB, 0);

        string[16] memory names = [
            "stake(uint256,uint256,uint256)",
            "stake(uint256,uint256,uint256)",
            "withdraw(uint256,uint256,uint256)",
            "reportHostStake(uint256,uint256)",
            "payFees(uint256,uint256)",
            "payFees(uint256,uint256)",
            "sendDirect(uint256,uint256)",
            "sync(uint256)",
            "sync(uint256)",
            "claim(uint256,uint256)",
            "claim(uint256,uint256)",
            "togglePoolPause(uint256)",
            "toggleEscrowPause(uint256)",
            "setLockTier(uint256,uint256,uint256)",
            "setHostMultiplier(uint256)",
            "warp(uint256)"
        ];
        bytes4[] memory selectors = new bytes4[](names.length);
        for (uint256 i; i < names.length; ++i) {
            selectors[i] = bytes4(keccak256(bytes(names[i])));
        }
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    function _assertModel() internal view {
        assertEq(handler.violations(), 0, handler.firstViolation());
    }

    function invariant_modelHoldsForEveryCall() public view {
        _assertModel();
    }

    /// Per token, what was claimed plus what is claimable never exceeds what reached the pool,
    /// nor what the pool has booked; the pool's balance covers everything still claimable.
    function invariant_rewardsNeverExceedWhatArrived() public view {
        _assertModel();
        for (uint256 k; k < 3; ++k) {
            address t = handler.token(k);
            uint256 claimedSum;
            uint256 pendingSum;
            for (uint256 i; i < handler.accountCount(); ++i) {
                address a = handler.account(i);
                claimedSum += handler.claimed(a, t);
                pendingSum += pool.pendingRewards(a, t);
            }
            assertLe(claimedSum + pendingSum, handler.delivered(t), "claimed + pending > received");
            assertLe(pendingSum, pool.unclaimedRewards(t), "pending > booked");
            uint256 staked = t == address(fab) ? pool.totalStaked() : 0;
            assertGe(_balanceOf(t, address(pool)), pool.unclaimedRewards(t) + staked, "balance < owed");
            // Nothing is lost: what arrived is claimed, booked or waiting for the next sync.
            assertEq(
                _balanceOf(t, address(pool)) - staked + claimedSum, handler.delivered(t), "rewards created or lost"
            );
        }
    }

    /// FAB custody: the pool holds at least the staked FAB plus the FAB owed as rewards, and the
    /// token's custody record matches the stakes.
    function invariant_fabCustodyCoversStakesAndRewards() public view {
        _assertModel();
        uint256 staked;
        uint256 owed;
        for (uint256 i; i < handler.accountCount(); ++i) {
            address a = handler.account(i);
            owed += pool.pendingRewards(a, address(fab));
            for (uint8 t; t < handler.tierCount(); ++t) {
                StakersPoolHandler.GhostPosition memory g = handler.position(a, t);
                staked += g.amount;
                (uint256 amount, uint64 lockEnd,) = pool.positionOf(a, t);
                assertEq(amount, g.amount, "position amount");
                if (amount != 0) assertEq(lockEnd, g.lockEnd, "position lockEnd");
            }
            assertEq(fab.custodiedOf(a), _positionsOf(a), "custodied FAB != positions");
        }
        assertEq(pool.totalStaked(), staked, "totalStaked != positions");
        assertEq(fab.heldBy(address(pool)), staked, "heldBy != positions");
        assertGe(fab.balanceOf(address(pool)), staked + owed, "FAB balance < stakes + rewards");
    }

    /// Shares are the model's (host stake at its multiplier plus each position at the multiplier
    /// it was staked at) and sum to the total.
    function invariant_sharesMatchModel() public view {
        _assertModel();
        uint256 sum;
        for (uint256 i; i < handler.accountCount(); ++i) {
            address a = handler.account(i);
            assertEq(pool.sharesOf(a), handler.modelShares(a), "shares");
            sum += pool.sharesOf(a);
        }
        assertEq(pool.totalShares(), sum, "totalShares != sum of shares");
    }

    /// Multipliers never create rewards out of nothing: the 2x observer has exactly twice the 1x
    /// observer's rewards (within one wei), and every account has its exact share of each sync
    /// within a few wei of rounding, which the contract only ever loses (never gains).
    function invariant_rewardsFollowShares() public view {
        _assertModel();
        for (uint256 k; k < 3; ++k) {
            address t = handler.token(k);
            uint256 twice = pool.pendingRewards(observer2x, t);
            uint256 once = pool.pendingRewards(observer1x, t);
            assertGe(twice, 2 * once, "2x observer below twice the 1x");
            assertLe(twice, 2 * once + 1, "2x observer above twice the 1x");
            for (uint256 i; i < handler.accountCount(); ++i) {
                address a = handler.account(i);
                uint256 got = handler.claimed(a, t) + pool.pendingRewards(a, t);
                uint256 fair = handler.fairShare(a, t);
                // The model rounds down once per sync; the contract rounds down per interval.
                assertLe(got, fair + handler.syncs(), "account got more than its share");
                assertGe(got + handler.roundingAllowance(a) + 1, fair, "account got less than its share");
            }
        }
    }

    function _positionsOf(address a) internal view returns (uint256 sum) {
        for (uint8 t; t < handler.tierCount(); ++t) {
            sum += handler.position(a, t).amount;
        }
    }
}

/// @notice Single-step properties of staking, reward sharing and governance bounds.
contract StakersPoolFuzzTest is StakersPoolSetup {
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    address internal registry = makeAddr("registry");

    function setUp() public {
        _deploy();
        vm.prank(admin);
        pool.setRegistry(registry);
        _fundFab(alice, 100_000_000 * FAB_UNIT);
        _fundFab(bob, 100_000_000 * FAB_UNIT);
        _fundFab(carol, 100_000_000 * FAB_UNIT);
    }

    function _stake(address who, uint256 amount, uint8 tier) internal {
        vm.prank(who);
        pool.stake(amount, tier);
    }

    function _multiplier(uint8 tier) internal view returns (uint16 m) {
        (, m) = pool.lockTier(tier);
    }

    function _sendEth(uint256 amount) internal {
        vm.deal(address(this), amount);
        (bool ok,) = address(pool).call{value: amount}("");
        assertTrue(ok);
    }

    function testFuzz_stakeCountsSharesAtTheTierMultiplierAndKeepsVotes(uint256 amount, uint8 tierSeed) public {
        amount = bound(amount, 1, 100_000_000 * FAB_UNIT);
        uint8 tier = tierSeed % 4;
        (uint64 duration, uint16 multiplier) = pool.lockTier(tier);
        vm.prank(alice);
        fab.delegate(alice);
        uint256 votes = fab.getVotes(alice);
        _stake(alice, amount, tier);
        assertEq(pool.sharesOf(alice), amount * multiplier / BPS);
        assertEq(pool.totalShares(), amount * multiplier / BPS);
        (uint256 staked, uint64 lockEnd, uint16 effective) = pool.positionOf(alice, tier);
        assertEq(staked, amount);
        assertEq(lockEnd, block.timestamp + duration);
        if (amount > BPS) assertEq(effective, multiplier);
        assertEq(fab.getVotes(alice), votes, "votes moved");
        assertEq(fab.heldBy(address(pool)), amount);
        assertEq(fab.custodiedOf(alice), amount);
    }

    function testFuzz_rewardsSplitProRata(
        uint256 a,
        uint256 b,
        uint8 tierA,
        uint8 tierB,
        uint256 reward,
        uint256 usdReward
    ) public {
        a = bound(a, 1, 50_000_000 * FAB_UNIT);
        b = bound(b, 1, 50_000_000 * FAB_UNIT);
        reward = bound(reward, 0, 1e30);
        usdReward = bound(usdReward, 0, 1e18);
        _stake(alice, a, tierA % 4);
        _stake(bob, b, tierB % 4);
        uint256 sa = pool.sharesOf(alice);
        uint256 sb = pool.sharesOf(bob);
        _sendEth(reward);
        usd.mint(address(pool), usdReward);
        pool.sync(ETH);
        pool.sync(address(usd));
        uint256 pa = pool.pendingRewards(alice, ETH);
        uint256 pb = pool.pendingRewards(bob, ETH);
        assertLe(pa + pb, reward, "ETH overpaid");
        assertApproxEqAbs(pa, reward * sa / (sa + sb), 1, "alice ETH share");
        assertApproxEqAbs(pb, reward * sb / (sa + sb), 1, "bob ETH share");
        assertGe(pa + pb + 2, reward, "ETH dust above 2 wei");
        uint256 ua = pool.pendingRewards(alice, address(usd));
        uint256 ub = pool.pendingRewards(bob, address(usd));
        assertLe(ua + ub, usdReward, "USD overpaid");
        assertApproxEqAbs(ua, usdReward * sa / (sa + sb), 1, "alice USD share");
    }

    function testFuzz_doubleMultiplierEarnsTwice(uint256 amount, uint256 reward) public {
        amount = bound(amount, 1, 50_000_000 * FAB_UNIT);
        reward = bound(reward, 0, 1e30);
        _stake(alice, amount, 3);
        _stake(bob, amount, 0);
        _sendEth(reward);
        pool.sync(ETH);
        uint256 twice = pool.pendingRewards(alice, ETH);
        uint256 once = pool.pendingRewards(bob, ETH);
        assertGe(twice, 2 * once);
        assertLe(twice, 2 * once + 1);
        assertLe(twice + once, reward);
    }

    function testFuzz_withdrawOnlyAfterTheLockEnds(uint256 amount, uint8 tierSeed, uint256 elapsed) public {
        amount = bound(amount, 1, 1_000_000 * FAB_UNIT);
        uint8 tier = 1 + tierSeed % 3;
        (uint64 duration,) = pool.lockTier(tier);
        elapsed = bound(elapsed, 0, 2 * uint256(duration));
        _stake(alice, amount, tier);
        uint64 lockEnd = uint64(block.timestamp) + duration;
        vm.warp(block.timestamp + elapsed);
        uint256 before = fab.balanceOf(alice);
        vm.prank(alice);
        if (elapsed < duration) {
            vm.expectRevert(abi.encodeWithSelector(IStakersPool.StakersPoolLocked.selector, alice, tier, lockEnd));
            pool.withdraw(tier, amount);
            return;
        }
        pool.withdraw(tier, amount);
        assertEq(fab.balanceOf(alice), before + amount);
        assertEq(pool.sharesOf(alice), 0);
        assertEq(fab.heldBy(address(pool)), 0);
    }

    function testFuzz_partialWithdrawKeepsSharesInProportion(uint256 amount, uint256 part, uint8 tierSeed) public {
        amount = bound(amount, 2, 1_000_000 * FAB_UNIT);
        part = bound(part, 1, amount - 1);
        uint8 tier = tierSeed % 4;
        _stake(alice, amount, tier);
        uint256 shares = pool.sharesOf(alice);
        vm.warp(block.timestamp + 180 days);
        vm.prank(alice);
        pool.withdraw(tier, part);
        assertEq(pool.sharesOf(alice), shares * (amount - part) / amount);
        (uint256 left,,) = pool.positionOf(alice, tier);
        assertEq(left, amount - part);
    }

    function testFuzz_hostStakeCountsAtTheHostMultiplier(uint256 stake, uint16 multiplier, uint16 later) public {
        stake = bound(stake, 0, 1e27);
        multiplier = uint16(bound(multiplier, BPS, 20_000));
        later = uint16(bound(later, BPS, 20_000));
        vm.prank(admin);
        pool.setHostMultiplier(multiplier);
        vm.prank(registry);
        pool.onHostStakeChanged(alice, stake);
        assertEq(pool.sharesOf(alice), stake * multiplier / BPS);
        assertEq(pool.hostStakeOf(alice), stake);
        // A new multiplier applies from the host's next report only.
        vm.prank(admin);
        pool.setHostMultiplier(later);
        assertEq(pool.sharesOf(alice), stake * multiplier / BPS);
        vm.prank(registry);
        pool.onHostStakeChanged(alice, stake);
        assertEq(pool.sharesOf(alice), stake * later / BPS);
    }

    function testFuzz_onlyTheRegistryReportsHostStakes(address caller, uint256 stake) public {
        vm.assume(caller != registry);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IStakersPool.StakersPoolNotRegistry.selector, caller));
        pool.onHostStakeChanged(alice, stake);
    }

    function testFuzz_setLockTierEnforcesBounds(uint8 tier, uint64 duration, uint16 multiplier) public {
        tier = uint8(bound(tier, 0, 7));
        bool valid = tier <= 4 && multiplier >= BPS && multiplier <= 30_000 && duration <= 4 * 365 days
            && (tier == 0 ? duration == 0 && multiplier == BPS : duration != 0);
        vm.prank(admin);
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(IStakersPool.StakersPoolInvalidLockTier.selector, tier, duration, multiplier)
            );
        }
        pool.setLockTier(tier, duration, multiplier);
        if (valid) {
            (uint64 d, uint16 m) = pool.lockTier(tier);
            assertEq(d, duration);
            assertEq(m, multiplier);
        }
    }

    function testFuzz_setHostMultiplierEnforcesBounds(uint16 multiplier) public {
        bool valid = multiplier >= BPS && multiplier <= 20_000;
        vm.prank(admin);
        if (!valid) {
            vm.expectRevert(
                abi.encodeWithSelector(IStakersPool.StakersPoolInvalidHostMultiplier.selector, multiplier)
            );
        }
        pool.setHostMultiplier(multiplier);
        if (valid) assertEq(pool.hostMultiplierBps(), multiplier);
    }

    function testFuzz_aMultiplierChangeNeverRewritesAPosition(uint256 amount, uint256 topUp, uint16 multiplier)
        public
    {
        amount = bound(amount, 1, 1_000_000 * FAB_UNIT);
        topUp = bound(topUp, 1, 1_000_000 * FAB_UNIT);
        multiplier = uint16(bound(multiplier, BPS, 30_000));
        _stake(alice, amount, 2);
        uint256 before = pool.sharesOf(alice);
        vm.prank(admin);
        pool.setLockTier(2, 90 days, multiplier);
        assertEq(pool.sharesOf(alice), before, "existing position rewritten");
        _stake(alice, topUp, 2);
        assertEq(pool.sharesOf(alice), before + topUp * multiplier / BPS, "top-up not at the new multiplier");
    }

    function testFuzz_rewardsWithNoSharesWaitForStakers(uint256 reward, uint256 amount) public {
        reward = bound(reward, 1, 1e30);
        amount = bound(amount, 1, 1_000_000 * FAB_UNIT);
        _sendEth(reward);
        pool.sync(ETH);
        assertEq(pool.accRewardPerShare(ETH), 0);
        assertEq(pool.unclaimedRewards(ETH), 0);
        _stake(alice, amount, 0);
        pool.sync(ETH);
        uint256 pending = pool.pendingRewards(alice, ETH);
        assertLe(pending, reward);
        assertGe(pending + 1, reward, "rewards lost");
    }

    function testFuzz_claimPaysOnceAndToTheGivenAddress(uint256 amount, uint256 reward, address to) public {
        vm.assume(to != address(0) && to != address(pool) && to.code.length == 0 && uint160(to) > 0xffff);
        amount = bound(amount, 1, 1_000_000 * FAB_UNIT);
        reward = bound(reward, 0, 1e24);
        _stake(alice, amount, 1);
        usd.mint(address(pool), reward);
        pool.sync(address(usd));
        uint256 pending = pool.pendingRewards(alice, address(usd));
        uint256 before = usd.balanceOf(to);
        address[] memory list = new address[](2);
        list[0] = address(usd);
        list[1] = address(usd);
        vm.prank(alice);
        pool.claim(list, to);
        assertEq(usd.balanceOf(to), before + pending);
        assertEq(pool.pendingRewards(alice, address(usd)), 0);
        vm.prank(alice);
        pool.claim(list, to);
        assertEq(usd.balanceOf(to), before + pending, "paid twice");
    }

    /// Many small syncs with odd share counts: the rounding never overpays, and loses at most a
    /// wei per account per sync.
    function testFuzz_manySyncsNeverOverpay(uint256[3] memory stakes, uint64[8] memory rewards) public {
        address[3] memory who = [alice, bob, carol];
        for (uint256 i; i < 3; ++i) {
            _stake(who[i], bound(stakes[i], 1, 1_000 * FAB_UNIT), uint8(i));
        }
        uint256 total;
        for (uint256 k; k < 8; ++k) {
            uint256 r = rewards[k] % 1_000;
            total += r;
            usd.mint(address(pool), r);
            pool.sync(address(usd));
            if (k == 3) {
                // A share change between syncs.
                vm.prank(registry);
                pool.onHostStakeChanged(bob, stakes[0] % (1_000 * FAB_UNIT));
            }
        }
        uint256 sum;
        for (uint256 i; i < 3; ++i) {
            sum += pool.pendingRewards(who[i], address(usd));
        }
        assertLe(sum, total, "overpaid");
        assertLe(sum, pool.unclaimedRewards(address(usd)), "pending above booked");
        assertGe(usd.balanceOf(address(pool)), pool.unclaimedRewards(address(usd)));
        assertGe(sum + 3 * 8 + 3, total, "lost more than rounding");
    }

    /// The escrow's stakers' fee of a payment reaches the pool at the next sync.
    function testFuzz_escrowFeesReachStakers(uint256 payment, uint256 amount) public {
        payment = bound(payment, 1, 1e24);
        amount = bound(amount, 1, 1_000_000 * FAB_UNIT);
        _stake(alice, amount, 0);
        vm.prank(admin);
        escrow.setLocker(address(this), true);
        usd.mint(address(this), payment);
        usd.approve(address(escrow), payment);
        escrow.lock(1, address(this), address(usd), payment);
        escrow.release(1, makeAddr("host"), address(this), payment);
        (, uint256 fees) = escrow.feesOf(address(usd));
        assertEq(fees, payment - payment * 8_500 / BPS - payment * 1_000 / BPS);
        pool.sync(address(usd));
        assertEq(usd.balanceOf(address(pool)), fees);
        (, uint256 left) = escrow.feesOf(address(usd));
        assertEq(left, 0);
        uint256 pending = pool.pendingRewards(alice, address(usd));
        assertLe(pending, fees);
        assertGe(pending + 1, fees);
    }

    /// A stake syncs first: a stake made just before a sync (a flash loan through the unlocked
    /// tier) earns nothing of what arrived before it, and leaving at once takes only the FAB.
    function testFuzz_aNewStakeNeverSharesEarlierRewards(uint256 early, uint256 late, uint256 payment, uint256 gift)
        public
    {
        early = bound(early, 1, 1_000 * FAB_UNIT);
        late = bound(late, 1, 100_000_000 * FAB_UNIT);
        payment = bound(payment, 1, 1e24);
        gift = bound(gift, 0, 1e24);
        _stake(alice, early, 0);
        vm.prank(admin);
        escrow.setLocker(address(this), true);
        vm.deal(address(this), payment);
        escrow.lock{value: payment}(1, address(this), ETH, payment);
        escrow.release(1, makeAddr("host"), address(this), payment);
        (, uint256 fee) = escrow.feesOf(ETH);
        _sendEth(gift);
        uint256 before = fab.balanceOf(bob);
        _stake(bob, late, 0);
        pool.sync(ETH);
        assertEq(pool.pendingRewards(bob, ETH), 0, "the late stake shared earlier rewards");
        assertGe(pool.pendingRewards(alice, ETH) + 1, fee + gift, "the early staker lost rewards");
        vm.prank(bob);
        pool.withdraw(0, late);
        assertEq(fab.balanceOf(bob), before);
        assertEq(pool.pendingRewards(bob, ETH), 0);
    }

    /// A paused escrow does not block a sync of what already arrived.
    function testFuzz_pausedEscrowStillSyncsWhatArrived(uint256 reward) public {
        reward = bound(reward, 1, 1e24);
        _stake(alice, FAB_UNIT, 0);
        vm.prank(admin);
        escrow.pause();
        _sendEth(reward);
        pool.sync(ETH);
        assertGe(pool.pendingRewards(alice, ETH) + 1, reward);
    }
}
