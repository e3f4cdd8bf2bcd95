// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {INodeRegistry} from "../../contracts/registry/INodeRegistry.sol";
import {FabstirTestBase} from "./FabstirTestBase.sol";

/// @notice Fuzz tests of staking, unbonding, slashing, offers and model contexts in the NodeRegistry.
contract NodeRegistryFuzzTest is FabstirTestBase {
    uint256 internal constant HOST_FAB = 100_000 * FAB;

    address internal host = makeAddr("host");
    address internal renter = makeAddr("renter");
    address internal slasher = makeAddr("slasher");
    address internal victim = makeAddr("slashRecipient");

    function setUp() public {
        _deploySystem();
        _fundHost(host, HOST_FAB);
        bytes32 slasherRole = registry.SLASHER_ROLE();
        vm.prank(admin);
        registry.grantRole(slasherRole, slasher);
    }

    function _state(address h)
        internal
        view
        returns (INodeRegistry.HostStatus status, uint256 stake, uint256 unbonding, uint64 releaseAt)
    {
        (status, stake,, unbonding, releaseAt) = registry.hostState(h);
    }

    function _assertHeld(address h) internal view {
        (, uint256 stake, uint256 unbonding,) = _state(h);
        assertEq(fab.balanceOf(address(registry)), stake + unbonding, "registry holds stake + unbonding");
        assertEq(fab.balanceOf(h) + stake + unbonding + fab.balanceOf(victim), HOST_FAB, "no FAB created or lost");
    }

    // ---------------------------------------------------------------- register

    function testFuzz_register_requiresTheMinimumStake(uint256 stakeSeed) public {
        uint256 stake = bound(stakeSeed, 0, HOST_FAB);
        if (stake < MIN_STAKE) {
            vm.expectRevert(
                abi.encodeWithSelector(INodeRegistry.NodeRegistryStakeBelowMinimum.selector, host, stake, MIN_STAKE)
            );
        }
        _register(host, stake, 1 gwei, 0);
        (INodeRegistry.HostStatus status, uint256 staked,,) = _state(host);
        if (stake < MIN_STAKE) {
            assertEq(uint256(status), uint256(INodeRegistry.HostStatus.Unregistered));
            assertEq(staked, 0);
        } else {
            assertEq(uint256(status), uint256(INodeRegistry.HostStatus.Active));
            assertEq(staked, stake);
            (uint64 price, uint256 eligibleStake) = registry.checkEligible(host, registry.offerKey(MODEL, ETH));
            assertEq(price, 1 gwei);
            assertEq(eligibleStake, stake, "checkEligible returns the stake");
        }
        _assertHeld(host);
    }

    // ---------------------------------------------------------------- stake

    /// register, addStake, two unstake requests and a withdrawal keep stake + unbonding equal to
    /// what the registry holds; each request restarts the unbonding period.
    function testFuzz_stakeLifecycle_keepsStakeAndUnbondingConsistent(
        uint256 initialSeed,
        uint256 addedSeed,
        uint256 firstSeed,
        uint256 secondSeed,
        uint256 gapSeed
    ) public {
        uint256 initial = bound(initialSeed, MIN_STAKE, HOST_FAB / 2);
        uint256 added = bound(addedSeed, 1, HOST_FAB - initial);
        _register(host, initial, 1 gwei, 0);
        vm.prank(host);
        registry.addStake(added);
        uint256 stake = initial + added;
        _assertHeld(host);

        uint256 first = bound(firstSeed, 1, stake);
        vm.prank(host);
        registry.requestUnstake(first);
        (, uint256 s1, uint256 u1, uint64 r1) = _state(host);
        assertEq(s1, stake - first);
        assertEq(u1, first);
        assertEq(r1, block.timestamp + UNBONDING);
        _assertHeld(host);

        vm.warp(block.timestamp + bound(gapSeed, 0, UNBONDING));
        uint256 second;
        if (s1 != 0) {
            second = bound(secondSeed, 1, s1);
            vm.prank(host);
            registry.requestUnstake(second);
        }
        (, uint256 s2, uint256 u2, uint64 r2) = _state(host);
        assertEq(s2, s1 - second);
        assertEq(u2, first + second);
        assertEq(r2, second == 0 ? r1 : block.timestamp + UNBONDING, "a new request restarts unbonding");
        _assertHeld(host);

        if (block.timestamp < r2) {
            vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryUnbondingNotOver.selector, host, r2));
            vm.prank(host);
            registry.withdrawUnstaked();
        }
        vm.warp(r2);
        uint256 before = fab.balanceOf(host);
        vm.prank(host);
        registry.withdrawUnstaked();
        assertEq(fab.balanceOf(host) - before, u2, "withdrew all unbonded stake");
        (, uint256 s3, uint256 u3,) = _state(host);
        assertEq(s3, s2);
        assertEq(u3, 0);
        _assertHeld(host);

        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryNothingToWithdraw.selector, host));
        vm.prank(host);
        registry.withdrawUnstaked();
    }

    function testFuzz_requestUnstake_rejectsMoreThanTheStake(uint256 stakeSeed, uint256 amountSeed) public {
        uint256 stake = bound(stakeSeed, MIN_STAKE, HOST_FAB);
        uint256 amount = bound(amountSeed, stake + 1, type(uint256).max);
        _register(host, stake, 1 gwei, 0);
        vm.expectRevert(
            abi.encodeWithSelector(INodeRegistry.NodeRegistryInsufficientStake.selector, host, stake, amount)
        );
        vm.prank(host);
        registry.requestUnstake(amount);
    }

    function testFuzz_addStake_requiresRegistrationAndAmount(uint256 amountSeed) public {
        uint256 amount = bound(amountSeed, 1, HOST_FAB);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryNotRegistered.selector, host));
        vm.prank(host);
        registry.addStake(amount);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryInvalidAmount.selector, 0));
        vm.prank(host);
        registry.addStake(0);
    }

    /// Stake is a uint128: adding past it reverts instead of truncating (reachable only with a FAB
    /// supply above 2^128 wei, so this deploys one).
    function testFuzz_addStake_neverTruncatesTheStake(uint256 stakeSeed, uint256 amountSeed) public {
        _deploySystem(2 ** 130);
        _fundHost(host, 2 ** 129);
        uint256 stake = bound(stakeSeed, MIN_STAKE, type(uint128).max);
        uint256 amount = bound(amountSeed, type(uint128).max - stake + 1, 2 ** 129);
        _register(host, stake, 1 gwei, 0);
        if (amount > type(uint128).max) {
            vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryInvalidAmount.selector, amount));
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintDowncast.selector, 128, stake + amount)
            );
        }
        vm.prank(host);
        registry.addStake(amount);
        (, uint256 staked,,) = _state(host);
        assertEq(staked, stake);
        assertEq(fab.balanceOf(address(registry)), stake);
    }

    // ---------------------------------------------------------------- slash

    /// Slashing takes from the stake first, then from the unbonding stake, sends exactly `amount`
    /// to the recipient, and reverts when asked for more than both.
    function testFuzz_slash_takesStakeThenUnbonding(uint256 stakeSeed, uint256 unbondSeed, uint256 amountSeed) public {
        uint256 total = bound(stakeSeed, MIN_STAKE, HOST_FAB);
        uint256 unbond = bound(unbondSeed, 0, total);
        _register(host, total, 1 gwei, 0);
        if (unbond != 0) {
            vm.prank(host);
            registry.requestUnstake(unbond);
        }
        uint256 stake = total - unbond;
        uint256 amount = bound(amountSeed, 1, total + 1);

        if (amount > total) {
            vm.expectRevert(
                abi.encodeWithSelector(INodeRegistry.NodeRegistryInsufficientStake.selector, host, total, amount)
            );
        }
        vm.prank(slasher);
        registry.slash(host, amount, victim, keccak256("proof failure"));

        (, uint256 s, uint256 u,) = _state(host);
        if (amount > total) {
            assertEq(s, stake);
            assertEq(u, unbond);
            assertEq(fab.balanceOf(victim), 0);
        } else {
            uint256 fromStake = amount < stake ? amount : stake;
            assertEq(s, stake - fromStake, "stake first");
            assertEq(u, unbond - (amount - fromStake), "then unbonding");
            assertEq(fab.balanceOf(victim), amount, "recipient gets the amount");
        }
        _assertHeld(host);
    }

    /// A deregistered host's unbonding stake can still be slashed.
    function testFuzz_slash_reachesUnbondingAfterDeregistration(uint256 stakeSeed, uint256 amountSeed) public {
        uint256 stake = bound(stakeSeed, MIN_STAKE, HOST_FAB);
        uint256 amount = bound(amountSeed, 1, stake);
        _register(host, stake, 1 gwei, 0);
        vm.prank(host);
        registry.deregister();
        vm.prank(slasher);
        registry.slash(host, amount, victim, bytes32(0));
        (INodeRegistry.HostStatus status, uint256 s, uint256 u,) = _state(host);
        assertEq(uint256(status), uint256(INodeRegistry.HostStatus.Unregistered));
        assertEq(s, 0);
        assertEq(u, stake - amount);
        _assertHeld(host);
    }

    function testFuzz_slash_onlyTheSlasher(address caller) public {
        vm.assume(caller != slasher);
        _register(host, MIN_STAKE, 1 gwei, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, caller, registry.SLASHER_ROLE()
            )
        );
        vm.prank(caller);
        registry.slash(host, 1, victim, bytes32(0));
    }

    // ---------------------------------------------------------------- unfinished jobs

    /// With a claimed job, a host may not take its stake below the minimum nor deregister; once
    /// the job is settled it may.
    function testFuzz_unfinishedJobs_protectTheMinimumStake(uint256 extraSeed, uint256 amountSeed) public {
        uint256 extra = bound(extraSeed, 0, HOST_FAB - MIN_STAKE);
        uint256 stake = MIN_STAKE + extra;
        uint256 amount = bound(amountSeed, 1, stake);
        _register(host, stake, 1 gwei, 0);
        _fundRenter(renter, 1 ether, 0);
        uint256 id = _post(renter, ETH, 100, 1 gwei);
        vm.prank(host);
        marketplace.claimJob(id);

        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryUnfinishedJobs.selector, host, 1));
        vm.prank(host);
        registry.deregister();

        if (stake - amount < MIN_STAKE) {
            vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryUnfinishedJobs.selector, host, 1));
        }
        vm.prank(host);
        registry.requestUnstake(amount);
        (, uint256 s,,) = _state(host);
        assertGe(s, MIN_STAKE, "stake never drops below the minimum while a job is open");

        vm.prank(host);
        marketplace.completeJob(id, OUTPUT, 10);
        vm.prank(renter);
        marketplace.acceptJob(id);
        vm.prank(host);
        registry.deregister();
        (INodeRegistry.HostStatus status, uint256 s2, uint256 u2,) = _state(host);
        assertEq(uint256(status), uint256(INodeRegistry.HostStatus.Unregistered));
        assertEq(s2, 0);
        assertEq(u2, stake, "everything is unbonding");
        _assertHeld(host);
    }

    // ---------------------------------------------------------------- offers

    /// A price is stored per (model, token); a price of 0 withdraws the offer and the model.
    function testFuzz_offers_priceAndWithdrawal(uint64 price, address token, bytes32 modelId) public {
        vm.assume(modelId != bytes32(0) && price != 0);
        _register(host, MIN_STAKE, 0, 0);
        _setPrice(host, modelId, token, price);
        bytes32 key = registry.offerKey(modelId, token);
        assertEq(key, keccak256(abi.encode(modelId, token)));
        assertEq(registry.priceOf(host, modelId, token), price);
        (uint64 eligiblePrice, uint256 eligibleStake) = registry.checkEligible(host, key);
        assertEq(eligiblePrice, price);
        assertEq(eligibleStake, MIN_STAKE, "checkEligible returns the stake");
        (address[] memory page, uint256 total) = registry.hostsForModel(modelId, 0, 10);
        assertEq(total, 1);
        assertEq(page[0], host);

        _setPrice(host, modelId, token, 0);
        assertEq(registry.priceOf(host, modelId, token), 0);
        assertEq(registry.modelsOf(host).length, 0, "model removed with its last offer");
        (, total) = registry.hostsForModel(modelId, 0, 10);
        assertEq(total, 0);
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryModelNotOffered.selector, host, key));
        registry.checkEligible(host, key);
    }

    /// Any non-zero context length of an offered model is stored as given; it survives a change
    /// of price or tokens and is cleared (with an event) when the model's last offer goes, or when
    /// the host deregisters.
    function testFuzz_modelContexts_setAndClearedWithTheModel(
        uint32 contextLength,
        bytes32 modelId,
        address token,
        bool deregister
    ) public {
        vm.assume(modelId != bytes32(0) && contextLength != 0 && token != address(usd));
        _register(host, MIN_STAKE, 0, 0);
        INodeRegistry.ModelContext[] memory contexts = new INodeRegistry.ModelContext[](1);
        contexts[0] = INodeRegistry.ModelContext({modelId: modelId, contextLength: contextLength});
        vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryModelNotListed.selector, host, modelId));
        vm.prank(host);
        registry.setModelContexts(contexts);

        _setPrice(host, modelId, token, 5);
        vm.expectEmit(address(registry));
        emit INodeRegistry.ModelContextUpdated(host, modelId, contextLength);
        vm.prank(host);
        registry.setModelContexts(contexts);
        assertEq(registry.contextLengthOf(host, modelId), contextLength);
        _setPrice(host, modelId, address(usd), 7);
        _setPrice(host, modelId, token, 9);
        _setPrice(host, modelId, address(usd), 0);
        assertEq(registry.contextLengthOf(host, modelId), contextLength, "kept while the model is offered");

        vm.expectEmit(address(registry));
        emit INodeRegistry.ModelContextUpdated(host, modelId, 0);
        if (deregister) {
            vm.prank(host);
            registry.deregister();
        } else {
            _setPrice(host, modelId, token, 0);
        }
        assertEq(registry.contextLengthOf(host, modelId), 0, "cleared with the model");

        contexts[0].contextLength = 0;
        if (!deregister) {
            _setPrice(host, modelId, token, 5);
            assertEq(registry.contextLengthOf(host, modelId), 0, "a re-added model starts without one");
            vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryInvalidContextLength.selector, modelId));
            vm.prank(host);
            registry.setModelContexts(contexts);
        }
    }

    // ---------------------------------------------------------------- discovery

    /// Any (offset, limit) window, including ones whose sum overflows, returns exactly the slice
    /// of active hosts it covers.
    function testFuzz_activeHosts_pagesAnyWindow(uint256 offset, uint256 limit, uint8 countSeed) public {
        uint256 count = bound(countSeed, 0, 5);
        for (uint256 i; i < count; ++i) {
            address h = makeAddr(string.concat("pagedHost", vm.toString(i)));
            _fundHost(h, MIN_STAKE);
            _register(h, MIN_STAKE, 1 gwei, 0);
        }
        if (offset % 2 == 0) offset = bound(offset, 0, count + 1);
        if (limit % 2 == 0) limit = bound(limit, 0, count + 1);
        (address[] memory all,) = registry.activeHosts(0, type(uint256).max);
        assertEq(all.length, count, "every host listed");

        (address[] memory page, uint256 total) = registry.activeHosts(offset, limit);
        assertEq(total, count, "total");
        uint256 expected = offset >= count ? 0 : (limit > count - offset ? count - offset : limit);
        assertEq(page.length, expected, "page length");
        for (uint256 i; i < page.length; ++i) {
            assertEq(page[i], all[offset + i], "page entry");
        }
    }

    // ---------------------------------------------------------------- admin

    function testFuzz_setUnbondingPeriod_boundedBy90Days(uint64 period) public {
        if (period > 90 days) {
            vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryInvalidUnbondingPeriod.selector, period));
        }
        vm.prank(admin);
        registry.setUnbondingPeriod(period);
        assertEq(registry.unbondingPeriod(), period > 90 days ? UNBONDING : period);
    }

    function testFuzz_setMinimumStake_rejectsZeroAndOverflow(uint256 minimum) public {
        bool valid = minimum != 0 && minimum <= type(uint128).max;
        if (!valid) {
            vm.expectRevert(abi.encodeWithSelector(INodeRegistry.NodeRegistryInvalidAmount.selector, minimum));
        }
        vm.prank(admin);
        registry.setMinimumStake(minimum);
        assertEq(registry.minimumStake(), valid ? minimum : MIN_STAKE);
    }
}
