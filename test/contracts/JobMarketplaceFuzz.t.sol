// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IPaymentEscrow} from "../../contracts/escrow/IPaymentEscrow.sol";
import {IJobMarketplace} from "../../contracts/marketplace/IJobMarketplace.sol";
import {INodeRegistry} from "../../contracts/registry/INodeRegistry.sol";
import {FabstirTestBase} from "./FabstirTestBase.sol";

/// @notice Fuzz tests of the job lifecycle through the deployed, wired system.
contract JobMarketplaceFuzzTest is FabstirTestBase {
    uint32 internal constant MAX_TOKENS = type(uint24).max;

    address internal renter = makeAddr("renter");
    address internal host = makeAddr("host");
    address internal otherHost = makeAddr("otherHost");
    address internal stranger = makeAddr("stranger");

    function setUp() public {
        _deploySystem();
        _fundHost(host, 10_000 * FAB);
        _fundHost(otherHost, 10_000 * FAB);
        _register(host, MIN_STAKE, 1 gwei, 1);
        _register(otherHost, MIN_STAKE, 1 gwei, 1);
        _fundRenter(renter, 0, 0);
    }

    // ---------------------------------------------------------------- helpers

    function _token(bool useUsd) internal view returns (address) {
        return useUsd ? address(usd) : ETH;
    }

    function _tokenBalance(address token, address account) internal view returns (uint256) {
        return token == ETH ? account.balance : usd.balanceOf(account);
    }

    /// @dev Funds the renter with exactly `amount` of `token` on top of what it has.
    function _fund(address token, uint256 amount) internal {
        if (token == ETH) vm.deal(renter, renter.balance + amount);
        else usd.mint(renter, amount);
    }

    /// @dev Posts a job (funding the renter exactly) and has `host` claim it at `hostPrice`.
    function _claimed(address token, uint32 maxTokens, uint64 maxPrice, uint64 hostPrice)
        internal
        returns (uint256 id)
    {
        _setPrice(host, MODEL, token, hostPrice);
        _fund(token, uint256(maxTokens) * maxPrice);
        id = _post(renter, token, maxTokens, maxPrice);
        vm.prank(host);
        marketplace.claimJob(id);
    }

    function _completed(address token, uint32 maxTokens, uint64 maxPrice, uint64 hostPrice, uint32 tokensUsed)
        internal
        returns (uint256 id)
    {
        id = _claimed(token, maxTokens, maxPrice, hostPrice);
        vm.prank(host);
        marketplace.completeJob(id, OUTPUT, tokensUsed);
    }

    struct Amounts {
        uint32 maxTokens;
        uint64 maxPrice;
        uint64 hostPrice;
        uint32 tokensUsed;
    }

    /// @dev A time offset around `edge`: one time in four exactly on it, one in four one second
    /// after, otherwise anywhere in [0, max].
    function _aroundEdge(uint256 seed, uint256 edge, uint256 max) internal pure returns (uint256) {
        if (seed % 4 == 0) return edge;
        if (seed % 4 == 1) return edge + 1;
        return bound(seed >> 2, 0, max);
    }

    function _amounts(uint256 maxTokensSeed, uint256 maxPriceSeed, uint256 hostPriceSeed, uint256 usedSeed)
        internal
        pure
        returns (Amounts memory a)
    {
        a.maxTokens = uint32(bound(maxTokensSeed, 1, MAX_TOKENS));
        a.maxPrice = uint64(bound(maxPriceSeed, 1, type(uint64).max));
        a.hostPrice = uint64(bound(hostPriceSeed, 1, a.maxPrice));
        a.tokensUsed = uint32(bound(usedSeed, 0, a.maxTokens));
    }

    // ---------------------------------------------------------------- post

    /// Any valid request locks exactly maxTokens * maxPricePerToken, taken from the renter.
    function testFuzz_postJob_locksExactlyTheDeposit(
        uint256 maxTokensSeed,
        uint256 maxPriceSeed,
        uint256 durationSeed,
        bool useUsd
    ) public {
        uint32 maxTokens = uint32(bound(maxTokensSeed, 1, MAX_TOKENS));
        uint64 maxPrice = uint64(bound(maxPriceSeed, 1, type(uint64).max));
        uint64 deadline = uint64(block.timestamp + bound(durationSeed, 1, 30 days));
        address token = _token(useUsd);
        uint256 deposit = uint256(maxTokens) * maxPrice;
        _fund(token, deposit);
        uint256 nextId = marketplace.nextJobId();

        uint256 id = _postFull(renter, token, maxTokens, maxPrice, deadline, address(0));

        assertEq(id, nextId, "job id");
        assertEq(marketplace.nextJobId(), nextId + 1, "next id");
        (address lockedToken, uint256 locked) = escrow.lockOf(address(marketplace), id);
        assertEq(lockedToken, token, "lock token");
        assertEq(locked, deposit, "lock amount");
        assertEq(_tokenBalance(token, address(escrow)), deposit, "escrow received the deposit");
        assertEq(_tokenBalance(token, renter), 0, "renter paid exactly the deposit");
        (IJobMarketplace.Job memory job, bytes32 modelId, address jobToken) = marketplace.getJob(id);
        assertEq(job.renter, renter);
        assertEq(uint256(job.status), uint256(IJobMarketplace.JobStatus.Posted));
        assertEq(job.maxTokens, maxTokens);
        assertEq(job.pricePerToken, maxPrice);
        assertEq(job.timeout, deadline);
        assertEq(modelId, MODEL);
        assertEq(jobToken, token);
    }

    function testFuzz_postJob_rejectsInvalidMaxTokens(uint256 seed) public {
        uint32 maxTokens = seed % 2 == 0 ? 0 : uint32(bound(seed, uint256(MAX_TOKENS) + 1, type(uint32).max));
        uint64 deadline = uint64(block.timestamp + 1 hours);
        IJobMarketplace.JobRequest memory r = _request(ETH, maxTokens, 1, deadline, address(0));
        vm.deal(renter, uint256(maxTokens));
        vm.expectRevert(abi.encodeWithSelector(IJobMarketplace.JobMarketplaceInvalidRequest.selector, "maxTokens"));
        vm.prank(renter);
        marketplace.postJob{value: maxTokens}(r);
    }

    function testFuzz_postJob_rejectsInvalidDeadline(uint64 deadline) public {
        vm.assume(deadline <= block.timestamp || deadline > block.timestamp + 30 days);
        IJobMarketplace.JobRequest memory r = _request(ETH, 10, 1, deadline, address(0));
        vm.deal(renter, 10);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketplace.JobMarketplaceInvalidRequest.selector, "deadline"));
        vm.prank(renter);
        marketplace.postJob{value: 10}(r);
    }

    function testFuzz_postJob_ethRequiresTheExactDeposit(uint256 maxTokensSeed, uint256 maxPriceSeed, uint256 valueSeed)
        public
    {
        uint32 maxTokens = uint32(bound(maxTokensSeed, 1, MAX_TOKENS));
        uint64 maxPrice = uint64(bound(maxPriceSeed, 1, type(uint64).max));
        uint256 deposit = uint256(maxTokens) * maxPrice;
        uint256 value = bound(valueSeed, 0, deposit * 2);
        vm.assume(value != deposit);
        vm.deal(renter, value);
        uint64 deadline = uint64(block.timestamp + 1);
        IJobMarketplace.JobRequest memory r = _request(ETH, maxTokens, maxPrice, deadline, address(0));
        vm.expectRevert(abi.encodeWithSelector(IPaymentEscrow.PaymentEscrowValueMismatch.selector, deposit, value));
        vm.prank(renter);
        marketplace.postJob{value: value}(r);
    }

    // ---------------------------------------------------------------- claim

    /// A host claims at its own price when it is within the renter's maximum, and not otherwise.
    function testFuzz_claimJob_enforcesTheMaximumPrice(uint256 maxPriceSeed, uint256 hostPriceSeed, bool useUsd)
        public
    {
        uint64 maxPrice = uint64(bound(maxPriceSeed, 1, type(uint64).max));
        uint64 hostPrice = uint64(bound(hostPriceSeed, 1, type(uint64).max));
        address token = _token(useUsd);
        _setPrice(host, MODEL, token, hostPrice);
        _fund(token, uint256(100) * maxPrice);
        uint256 id = _post(renter, token, 100, maxPrice);

        if (hostPrice > maxPrice) {
            vm.expectRevert(
                abi.encodeWithSelector(IJobMarketplace.JobMarketplacePriceTooHigh.selector, id, hostPrice, maxPrice)
            );
        }
        vm.prank(host);
        marketplace.claimJob(id);

        (IJobMarketplace.Job memory job,,) = marketplace.getJob(id);
        if (hostPrice > maxPrice) {
            assertEq(uint256(job.status), uint256(IJobMarketplace.JobStatus.Posted));
            assertEq(job.pricePerToken, maxPrice);
            assertEq(marketplace.activeJobCount(host), 0);
        } else {
            assertEq(uint256(job.status), uint256(IJobMarketplace.JobStatus.Claimed));
            assertEq(job.host, host);
            assertEq(job.pricePerToken, hostPrice, "the host's price is recorded");
            assertEq(marketplace.activeJobCount(host), 1);
        }
    }

    function testFuzz_claimJob_onlyTheChosenHost(address claimer) public {
        vm.assume(claimer != host && claimer != address(0));
        vm.deal(renter, 100);
        uint256 id = _postFull(renter, ETH, 100, 1, uint64(block.timestamp + 1 hours), host);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketplace.JobMarketplaceNotHost.selector, id, claimer));
        vm.prank(claimer);
        marketplace.claimJob(id);
    }

    /// A job can be claimed and completed up to its deadline second, not after it.
    function testFuzz_claimAndComplete_untilTheDeadlineOnly(uint256 durationSeed, uint256 lateSeed) public {
        uint64 deadline = uint64(block.timestamp + bound(durationSeed, 1, 30 days));
        vm.deal(renter, 1 gwei * 30);
        uint256 onTime = _postFull(renter, ETH, 10, 1 gwei, deadline, address(0));
        uint256 id = _postFull(renter, ETH, 10, 1 gwei, deadline, address(0));
        uint256 late = _postFull(renter, ETH, 10, 1 gwei, deadline, address(0));
        vm.prank(host);
        marketplace.claimJob(late);
        vm.warp(deadline);
        vm.prank(host);
        marketplace.claimJob(onTime);
        vm.prank(host);
        marketplace.completeJob(onTime, OUTPUT, 10);
        assertEq(uint256(_status(onTime)), uint256(IJobMarketplace.JobStatus.Completed));

        vm.warp(deadline + bound(lateSeed, 1, 365 days));
        vm.expectRevert(abi.encodeWithSelector(IJobMarketplace.JobMarketplaceDeadlinePassed.selector, late, deadline));
        vm.prank(host);
        marketplace.completeJob(late, OUTPUT, 10);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketplace.JobMarketplaceDeadlinePassed.selector, id, deadline));
        vm.prank(host);
        marketplace.claimJob(id);
    }

    /// Unregistered, paused and under-staked accounts cannot claim.
    function testFuzz_claimJob_requiresAnEligibleHost(address claimer, uint256 unstakeSeed) public {
        vm.assume(claimer != host && claimer != otherHost && claimer != renter && claimer != address(0));
        vm.deal(renter, 1 gwei * 30);
        uint256 id = _post(renter, ETH, 30, 1 gwei);

        vm.expectRevert(
            abi.encodeWithSelector(
                INodeRegistry.NodeRegistryHostNotActive.selector, claimer, INodeRegistry.HostStatus.Unregistered
            )
        );
        vm.prank(claimer);
        marketplace.claimJob(id);

        uint256 unstake = bound(unstakeSeed, 1, MIN_STAKE);
        vm.prank(host);
        registry.requestUnstake(unstake);
        vm.expectRevert(
            abi.encodeWithSelector(
                INodeRegistry.NodeRegistryStakeBelowMinimum.selector, host, MIN_STAKE - unstake, MIN_STAKE
            )
        );
        vm.prank(host);
        marketplace.claimJob(id);

        vm.prank(otherHost);
        registry.setAvailable(false);
        vm.expectRevert(
            abi.encodeWithSelector(
                INodeRegistry.NodeRegistryHostNotActive.selector, otherHost, INodeRegistry.HostStatus.Paused
            )
        );
        vm.prank(otherHost);
        marketplace.claimJob(id);
        assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Posted));
    }

    // ---------------------------------------------------------------- complete

    function testFuzz_completeJob_rejectsMoreTokensThanTheMaximum(uint256 maxTokensSeed, uint256 usedSeed) public {
        uint32 maxTokens = uint32(bound(maxTokensSeed, 1, MAX_TOKENS));
        uint32 used = uint32(bound(usedSeed, uint256(maxTokens) + 1, type(uint32).max));
        uint256 id = _claimed(ETH, maxTokens, 1, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarketplace.JobMarketplaceTooManyTokens.selector, id, used, maxTokens)
        );
        vm.prank(host);
        marketplace.completeJob(id, OUTPUT, used);
        assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Claimed));
    }

    function testFuzz_completeJob_onlyTheHost(address caller) public {
        vm.assume(caller != host);
        uint256 id = _claimed(ETH, 10, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketplace.JobMarketplaceNotHost.selector, id, caller));
        vm.prank(caller);
        marketplace.completeJob(id, OUTPUT, 1);
    }

    // ---------------------------------------------------------------- settle

    /// acceptJob pays tokensUsed * hostPrice split 85/10/5 and credits the rest of the deposit to the renter.
    function testFuzz_acceptJob_paysExactlyTheUsedTokens(
        uint256 maxTokensSeed,
        uint256 maxPriceSeed,
        uint256 hostPriceSeed,
        uint256 usedSeed,
        bool useUsd
    ) public {
        Amounts memory a = _amounts(maxTokensSeed, maxPriceSeed, hostPriceSeed, usedSeed);
        address token = _token(useUsd);
        uint256 id = _completed(token, a.maxTokens, a.maxPrice, a.hostPrice, a.tokensUsed);
        uint256 deposit = uint256(a.maxTokens) * a.maxPrice;
        uint256 payment = uint256(a.tokensUsed) * a.hostPrice;

        vm.prank(renter);
        marketplace.acceptJob(id);

        uint256 hostAmount = escrow.balanceOf(host, token);
        (uint256 tf, uint256 sf) = escrow.feesOf(token);
        assertEq(hostAmount, payment * 8_500 / BPS, "host 85%");
        assertEq(tf, payment * 1_000 / BPS, "treasury 10%");
        assertEq(hostAmount + tf + sf, payment, "shares sum to the payment");
        assertEq(escrow.balanceOf(renter, token), deposit - payment, "renter refund");
        assertEq(hostAmount + tf + sf + escrow.balanceOf(renter, token), deposit, "refund + payment == deposit");
        assertEq(_lockedAmount(id), 0, "lock released");
        assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Settled));
        assertEq(marketplace.activeJobCount(host), 0, "host no longer busy");
    }

    /// resolveDispute pays the host hostBps of the job's price and of the renter's bond, refunds the
    /// rest of both exactly, and below half records a lost dispute (the host is slashed, the renter
    /// compensated from the slash).
    function testFuzz_resolveDispute_splitsByHostBps(
        uint256 maxTokensSeed,
        uint256 maxPriceSeed,
        uint256 hostPriceSeed,
        uint256 usedSeed,
        uint16 hostBps,
        bool useUsd
    ) public {
        hostBps = uint16(bound(hostBps, 0, BPS));
        Amounts memory a = _amounts(maxTokensSeed, maxPriceSeed, hostPriceSeed, usedSeed);
        address token = _token(useUsd);
        uint256 id = _completed(token, a.maxTokens, a.maxPrice, a.hostPrice, a.tokensUsed);
        uint256 price = uint256(a.tokensUsed) * a.hostPrice;
        uint256 bond = _dispute(renter, id);
        assertEq(bond, price * 1_000 / BPS, "bond is 10% of the disputed payment");
        (, uint256 lockedBond) = escrow.lockOf(address(marketplace), _bondId(id));
        assertEq(lockedBond, bond, "bond locked in the escrow");
        assertEq(marketplace.activeJobCount(host), 1, "disputed jobs stay active");
        uint256 renterFab = fab.balanceOf(renter);

        vm.prank(admin);
        marketplace.resolveDispute(id, hostBps);

        uint256 deposit = uint256(a.maxTokens) * a.maxPrice;
        uint256 payment = price * hostBps / BPS;
        uint256 bondToHost = bond * hostBps / BPS;
        uint256 hostAmount = escrow.balanceOf(host, token);
        (uint256 tf, uint256 sf) = escrow.feesOf(token);
        assertEq(hostAmount, payment * 8_500 / BPS + bondToHost * 8_500 / BPS, "host share");
        assertEq(hostAmount + tf + sf, payment + bondToHost, "payment and bond split");
        assertEq(escrow.balanceOf(renter, token), deposit - payment + bond - bondToHost, "renter refund");
        assertEq(_lockedAmount(id), 0);
        (, lockedBond) = escrow.lockOf(address(marketplace), _bondId(id));
        assertEq(lockedBond, 0, "bond released");
        assertEq(marketplace.activeJobCount(host), 0);
        assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Settled));
        (, uint256 stake,,,) = registry.hostState(host);
        if (hostBps < BPS / 2) {
            // First offence: 5% of the stake, half of it to the renter.
            assertEq(stake, MIN_STAKE - MIN_STAKE * 500 / BPS, "lost dispute slashed");
            assertEq(fab.balanceOf(renter), renterFab + MIN_STAKE * 500 / BPS / 2, "renter compensated");
            assertEq(reputation.reputationOf(host).disputesLost, 1);
        } else {
            assertEq(stake, MIN_STAKE, "won dispute not slashed");
            assertEq(reputation.reputationOf(host).disputesWon, 1);
        }

        vm.expectRevert(
            abi.encodeWithSelector(
                IJobMarketplace.JobMarketplaceInvalidState.selector, id, IJobMarketplace.JobStatus.Settled
            )
        );
        vm.prank(admin);
        marketplace.resolveDispute(id, hostBps);
    }

    /// After the arbitration deadline (and only then) anyone applies the default: the host is paid
    /// in full, the renter's bond comes back whole, nobody is recorded as having lost.
    function testFuzz_settleDispute_defaultAfterTheArbitrationDeadline(
        uint256 usedSeed,
        uint256 elapsedSeed,
        uint32 windowSeed,
        bool useUsd
    ) public {
        uint32 window = uint32(bound(windowSeed, 1 hours, 30 days));
        vm.prank(admin);
        marketplace.setArbitrationWindow(window);
        address token = _token(useUsd);
        uint32 used = uint32(bound(usedSeed, 0, 1_000));
        uint256 id = _completed(token, 1_000, 1e9, 7e8, used);
        uint256 bond = _dispute(renter, id);
        uint64 deadline = uint64(block.timestamp + window);
        (IJobMarketplace.Job memory job,,) = marketplace.getJob(id);
        assertEq(job.timeout, deadline, "timeout holds the arbitration deadline");
        vm.warp(block.timestamp + _aroundEdge(elapsedSeed, window, 2 * uint256(window)));
        if (block.timestamp <= deadline) {
            vm.expectRevert(
                abi.encodeWithSelector(IJobMarketplace.JobMarketplaceArbitrationOpen.selector, id, deadline)
            );
            vm.prank(stranger);
            marketplace.settleDispute(id);
            assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Disputed));
            return;
        }
        vm.prank(stranger);
        marketplace.settleDispute(id);
        uint256 payment = uint256(used) * 7e8;
        assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Settled));
        assertEq(escrow.balanceOf(host, token), payment * 8_500 / BPS, "host paid in full");
        assertEq(escrow.balanceOf(renter, token), 1_000 * 1e9 - payment + bond, "bond back to the renter");
        (, uint256 lockedBond) = escrow.lockOf(address(marketplace), _bondId(id));
        assertEq(lockedBond + _lockedAmount(id), 0, "nothing stays locked");
        assertEq(marketplace.activeJobCount(host), 0, "host free to leave");
        (, uint256 stake,,,) = registry.hostState(host);
        assertEq(stake, MIN_STAKE, "no slash by default");
    }

    function testFuzz_resolveDispute_rejectsBpsAbove10000(uint16 hostBps) public {
        hostBps = uint16(bound(hostBps, uint256(BPS) + 1, type(uint16).max));
        uint256 id = _completed(ETH, 10, 1, 1, 5);
        _dispute(renter, id);
        vm.expectRevert(abi.encodeWithSelector(IJobMarketplace.JobMarketplaceInvalidBps.selector, hostBps));
        vm.prank(admin);
        marketplace.resolveDispute(id, hostBps);
    }

    function testFuzz_resolveDispute_onlyTheArbiter(address caller) public {
        vm.assume(caller != admin);
        uint256 id = _completed(ETH, 10, 1, 1, 5);
        _dispute(renter, id);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, caller, marketplace.ARBITER_ROLE()
            )
        );
        vm.prank(caller);
        marketplace.resolveDispute(id, 5_000);
    }

    /// Until the dispute window ends the renter may dispute and nobody may release; after it,
    /// the reverse. The window is fixed at completion.
    function testFuzz_disputeWindow_separatesDisputeAndRelease(uint256 elapsedSeed, uint32 newWindow) public {
        uint256 elapsed = _aroundEdge(elapsedSeed, DISPUTE_WINDOW, 2 * uint256(DISPUTE_WINDOW));
        uint256 id = _completed(ETH, 100, 3, 2, 50);
        uint64 releaseAt = uint64(block.timestamp + DISPUTE_WINDOW);
        vm.prank(admin);
        marketplace.setDisputeWindow(uint32(bound(newWindow, 1, 30 days)));
        vm.warp(block.timestamp + elapsed);

        if (block.timestamp <= releaseAt) {
            vm.expectRevert(
                abi.encodeWithSelector(IJobMarketplace.JobMarketplaceDisputeWindowOpen.selector, id, releaseAt)
            );
            vm.prank(stranger);
            marketplace.releasePayment(id);
            _dispute(renter, id);
            assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Disputed));
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(IJobMarketplace.JobMarketplaceDisputeWindowClosed.selector, id, releaseAt)
            );
            vm.prank(renter);
            marketplace.disputeJob(id, bytes32(0));
            vm.prank(stranger);
            marketplace.releasePayment(id);
            assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Settled));
            assertEq(escrow.balanceOf(host, ETH), 100 * 8_500 / BPS);
            assertEq(escrow.balanceOf(renter, ETH), 300 - 100);
        }
    }

    /// Posted jobs expire only after their deadline; claimed jobs after their deadline or the claim
    /// timeout, whichever comes first. Either refunds the whole deposit once; a claimed job taken
    /// back is an abandoned claim: the host is slashed 1% of its stake, half of it to the renter.
    function testFuzz_expireJob_refundsAfterTheDeadlineOnly(uint256 durationSeed, uint256 elapsedSeed, bool claim)
        public
    {
        uint256 duration = bound(durationSeed, 1, 30 days);
        uint64 deadline = uint64(block.timestamp + duration);
        uint64 until = deadline;
        if (claim && block.timestamp + 1 hours < until) until = uint64(block.timestamp + 1 hours);
        uint256 elapsed = _aroundEdge(elapsedSeed, until - block.timestamp, 60 days);
        vm.deal(renter, 7_000);
        uint256 id = _postFull(renter, ETH, 1_000, 7, deadline, address(0));
        if (claim) {
            _setPrice(host, MODEL, ETH, 5);
            vm.prank(host);
            marketplace.claimJob(id);
        }
        vm.warp(block.timestamp + elapsed);

        if (block.timestamp <= until) {
            vm.expectRevert(abi.encodeWithSelector(IJobMarketplace.JobMarketplaceDeadlineNotPassed.selector, id, until));
            vm.prank(stranger);
            marketplace.expireJob(id);
            assertEq(_lockedAmount(id), 7_000);
            assertEq(marketplace.activeJobCount(host), claim ? 1 : 0);
        } else {
            vm.prank(stranger);
            marketplace.expireJob(id);
            assertEq(escrow.balanceOf(renter, ETH), 7_000, "whole deposit refunded");
            assertEq(_lockedAmount(id), 0);
            assertEq(marketplace.activeJobCount(host), 0);
            (, uint256 stake,,,) = registry.hostState(host);
            uint256 slash = claim ? MIN_STAKE / 100 : 0;
            assertEq(stake, MIN_STAKE - slash, "abandoned claims cost 1% of the stake");
            assertEq(fab.balanceOf(renter), slash / 2, "renter compensated");
            assertEq(reputation.reputationOf(host).abandoned, claim ? 1 : 0);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IJobMarketplace.JobMarketplaceInvalidState.selector, id, IJobMarketplace.JobStatus.Expired
                )
            );
            vm.prank(stranger);
            marketplace.expireJob(id);
        }
    }

    /// A host holds at most stake / minimumStake * claimsPerMinimumStake open claims; finishing
    /// one frees a place and adding stake raises the limit.
    function testFuzz_claimJob_boundedByStake(uint256 stakeSeed, uint32 perStakeSeed) public {
        uint256 extra = bound(stakeSeed, 0, 3 * MIN_STAKE);
        uint32 perStake = uint32(bound(perStakeSeed, 1, 4));
        vm.prank(admin);
        registry.setClaimsPerMinimumStake(perStake);
        if (extra != 0) {
            vm.prank(host);
            registry.addStake(extra);
        }
        uint256 capacity = (MIN_STAKE + extra) / MIN_STAKE * perStake;
        _setPrice(host, MODEL, ETH, 1);
        vm.deal(renter, (capacity + 1) * 10);
        uint256 first;
        for (uint256 i; i < capacity; ++i) {
            uint256 id = _post(renter, ETH, 10, 1);
            if (i == 0) first = id;
            vm.prank(host);
            marketplace.claimJob(id);
        }
        uint256 over = _post(renter, ETH, 10, 1);
        vm.expectRevert(
            abi.encodeWithSelector(IJobMarketplace.JobMarketplaceClaimLimit.selector, host, capacity, capacity)
        );
        vm.prank(host);
        marketplace.claimJob(over);
        vm.prank(host);
        marketplace.refuseJob(first, bytes32("prompt_too_long"));
        vm.prank(host);
        marketplace.claimJob(over);
        assertEq(marketplace.activeJobCount(host), capacity);
    }

    /// A refusal before the deadline credits the renter exactly the whole deposit (any amounts, ETH
    /// or ERC-20), pays the host and the fees nothing, keeps the escrow solvent and frees the host;
    /// past the deadline it reverts and the job can only expire.
    function testFuzz_refuseJob_refundsTheWholeDepositBeforeTheDeadline(
        uint256 maxTokensSeed,
        uint256 maxPriceSeed,
        uint256 hostPriceSeed,
        uint256 elapsedSeed,
        bool useUsd,
        bytes32 reason
    ) public {
        Amounts memory a = _amounts(maxTokensSeed, maxPriceSeed, hostPriceSeed, 0);
        address token = _token(useUsd);
        uint256 deposit = uint256(a.maxTokens) * a.maxPrice;
        uint256 id = _claimed(token, a.maxTokens, a.maxPrice, a.hostPrice);
        uint256 elapsed = _aroundEdge(elapsedSeed, 1 hours, 2 hours);
        uint64 deadline = uint64(block.timestamp + 1 hours);
        vm.warp(block.timestamp + elapsed);
        uint256 held = _tokenBalance(token, address(escrow));
        assertEq(held, deposit, "the escrow holds exactly the deposit");

        if (block.timestamp > deadline) {
            vm.expectRevert(
                abi.encodeWithSelector(IJobMarketplace.JobMarketplaceDeadlinePassed.selector, id, deadline)
            );
            vm.prank(host);
            marketplace.refuseJob(id, reason);
            assertEq(_lockedAmount(id), deposit);
            return;
        }
        vm.expectEmit(address(marketplace));
        emit IJobMarketplace.JobRefused(id, host, reason);
        vm.expectEmit(address(escrow));
        emit IPaymentEscrow.FundsRefunded(id, renter, token, address(marketplace), deposit);
        vm.prank(host);
        marketplace.refuseJob(id, reason);

        assertEq(uint256(_status(id)), uint256(IJobMarketplace.JobStatus.Refused));
        assertEq(escrow.balanceOf(renter, token), deposit, "whole deposit credited to the renter");
        assertEq(escrow.balanceOf(host, token), 0, "nothing to the host");
        (uint256 tf, uint256 sf) = _fees(token);
        assertEq(tf + sf, 0, "no fees");
        assertEq(_lockedAmount(id), 0);
        assertEq(_tokenBalance(token, address(escrow)), held, "solvent: nothing left the escrow");
        assertEq(marketplace.activeJobCount(host), 0);
        vm.prank(renter);
        escrow.withdraw(token, deposit, renter);
        assertEq(_tokenBalance(token, renter), deposit, "the renter got its deposit back");
        assertEq(_tokenBalance(token, address(escrow)), 0);
    }

    /// Only the claiming host refuses, and only a claimed job.
    function testFuzz_refuseJob_onlyTheClaimingHost(address caller, uint8 stateSeed) public {
        vm.assume(caller != host);
        vm.deal(renter, 30);
        uint256 claimedId = _claimed(ETH, 10, 1, 1);
        bytes memory err = abi.encodeWithSelector(IJobMarketplace.JobMarketplaceNotHost.selector, claimedId, caller);
        vm.expectRevert(err);
        vm.prank(caller);
        marketplace.refuseJob(claimedId, bytes32("prompt_too_long"));

        // The host itself, on a job that is not (or no longer) claimed.
        uint256 id;
        IJobMarketplace.JobStatus status;
        uint256 mode = stateSeed % 3;
        if (mode == 0) {
            id = _postFull(renter, ETH, 10, 1, uint64(block.timestamp + 1 hours), host);
            status = IJobMarketplace.JobStatus.Posted;
        } else if (mode == 1) {
            id = _completed(ETH, 10, 1, 1, 5);
            status = IJobMarketplace.JobStatus.Completed;
        } else {
            id = claimedId;
            vm.prank(host);
            marketplace.refuseJob(id, bytes32("prompt_too_long"));
            status = IJobMarketplace.JobStatus.Refused;
        }
        vm.expectRevert(abi.encodeWithSelector(IJobMarketplace.JobMarketplaceInvalidState.selector, id, status));
        vm.prank(host);
        marketplace.refuseJob(id, bytes32("prompt_too_long"));
    }

    /// Only the renter cancels, accepts or disputes.
    function testFuzz_renterOnlyActions(address caller) public {
        vm.assume(caller != renter);
        vm.deal(renter, 10);
        uint256 posted = _post(renter, ETH, 10, 1);
        uint256 completed = _completed(ETH, 10, 1, 1, 1);
        bytes memory err = abi.encodeWithSelector(IJobMarketplace.JobMarketplaceNotRenter.selector, posted, caller);
        vm.expectRevert(err);
        vm.prank(caller);
        marketplace.cancelJob(posted);
        err = abi.encodeWithSelector(IJobMarketplace.JobMarketplaceNotRenter.selector, completed, caller);
        vm.expectRevert(err);
        vm.prank(caller);
        marketplace.acceptJob(completed);
        vm.expectRevert(err);
        vm.prank(caller);
        marketplace.disputeJob(completed, bytes32(0));

        vm.prank(renter);
        marketplace.cancelJob(posted);
        assertEq(escrow.balanceOf(renter, ETH), 10, "cancel refunds the deposit");
        assertEq(uint256(_status(completed)), uint256(IJobMarketplace.JobStatus.Completed));
    }

    /// activeJobCount follows claims and their settlement, refusal or expiry.
    function testFuzz_activeJobCount_followsClaimsAndSettlements(uint8 jobsSeed, uint8 settledSeed) public {
        uint256 n = bound(jobsSeed, 1, 12);
        uint256 settled = bound(settledSeed, 0, n);
        _setPrice(host, MODEL, ETH, 1);
        // Twice the minimum stake: room for 16 open claims.
        vm.prank(host);
        registry.addStake(MIN_STAKE);
        vm.deal(renter, n * 10);
        uint256[] memory ids = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            ids[i] = _post(renter, ETH, 10, 1);
            vm.prank(host);
            marketplace.claimJob(ids[i]);
        }
        assertEq(marketplace.activeJobCount(host), n);
        for (uint256 i; i < settled; ++i) {
            vm.prank(host);
            marketplace.completeJob(ids[i], OUTPUT, 3);
            vm.prank(renter);
            marketplace.acceptJob(ids[i]);
        }
        assertEq(marketplace.activeJobCount(host), n - settled);
        // Every other unsettled job is refused, the rest expire.
        uint256 refused;
        for (uint256 i = settled; i < n; i += 2) {
            vm.prank(host);
            marketplace.refuseJob(ids[i], bytes32("prompt_too_long"));
            ++refused;
        }
        assertEq(marketplace.activeJobCount(host), n - settled - refused);
        vm.warp(block.timestamp + 1 hours + 1);
        for (uint256 i = settled + 1; i < n; i += 2) {
            marketplace.expireJob(ids[i]);
        }
        assertEq(marketplace.activeJobCount(host), 0);
        assertEq(escrow.balanceOf(host, ETH), settled * (3 * 8_500 / BPS), "85% of 3 wei per settled job");
    }
}
