// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IJobMarketplace} from "../../contracts/marketplace/IJobMarketplace.sol";
import {JobMarketplace} from "../../contracts/marketplace/JobMarketplace.sol";
import {INodeRegistry} from "../../contracts/registry/INodeRegistry.sol";
import {NodeRegistry} from "../../contracts/registry/NodeRegistry.sol";
import {FABToken} from "../../contracts/token/FABToken.sol";
import {FabstirTestBase} from "./FabstirTestBase.sol";
import {ModelCheckedHandler} from "./ModelCheckedHandler.sol";

/// @notice Drives registration, staking, unbonding, slashing and deregistration (plus enough of the
/// job lifecycle to give hosts unfinished jobs) against a ghost model of every host. Calls are
/// checked against the model both ways; mismatches are recorded, never reverted, because the
/// fuzzer ignores reverts.
contract RegistryHandler is ModelCheckedHandler {
    bytes32 internal constant MODEL = bytes32("llama-3.1-8b-q4_k_m");
    address internal constant ETH = address(0);
    uint256 internal constant FAB = 1e18;
    uint64 internal constant MAX_JOB_PRICE = 1e9;

    NodeRegistry public immutable registry;
    JobMarketplace public immutable marketplace;
    FABToken public immutable fab;
    address public immutable admin;
    address public immutable slasher;
    address public immutable victim;
    address public immutable renter;

    address[4] internal hosts;

    struct GhostHost {
        INodeRegistry.HostStatus status;
        uint256 stake;
        uint256 unbonding;
        uint64 releaseAt;
        uint256 activeJobs;
        uint32 contextLength;
    }

    struct GhostJob {
        address host;
        uint64 deadline;
        IJobMarketplace.JobStatus status;
    }

    mapping(address host => GhostHost) internal ghosts;
    uint256[] internal jobIds;
    mapping(uint256 jobId => GhostJob) internal jobs;

    uint256 public time;
    uint256 public minimumStake;
    uint64 public unbondingPeriod;
    bool public registryPaused;
    uint256 public totalSlashed;


    constructor(
        NodeRegistry registry_,
        JobMarketplace marketplace_,
        FABToken fab_,
        address admin_,
        address slasher_,
        address victim_,
        address renter_,
        address[4] memory hosts_
    ) {
        registry = registry_;
        marketplace = marketplace_;
        fab = fab_;
        admin = admin_;
        slasher = slasher_;
        victim = victim_;
        renter = renter_;
        hosts = hosts_;
        time = block.timestamp;
        minimumStake = registry_.minimumStake();
        unbondingPeriod = registry_.unbondingPeriod();
    }

    modifier tick() {
        vm.warp(time);
        _;
    }

    // ---------------------------------------------------------------- views for the invariants

    function host(uint256 i) external view returns (address) {
        return hosts[i];
    }

    function hostCount() external pure returns (uint256) {
        return 4;
    }

    function ghost(address h) external view returns (GhostHost memory) {
        return ghosts[h];
    }

    function jobCount() external view returns (uint256) {
        return jobIds.length;
    }

    function jobIdAt(uint256 i) external view returns (uint256) {
        return jobIds[i];
    }

    function ghostJob(uint256 jobId) external view returns (GhostJob memory) {
        return jobs[jobId];
    }

    // ---------------------------------------------------------------- internals

    function _host(uint256 seed) internal view returns (address) {
        return hosts[seed % 4];
    }

    enum Want {
        Registered,
        Unregistered,
        Unbonding,
        Staked
    }

    /// @dev Mostly a host in the wanted state (when there is one), one time in eight any host, so
    /// that the rejections are exercised too.
    function _pickHost(uint256 seed, Want want) internal view returns (address) {
        if (seed % 8 != 0) {
            for (uint256 i; i < 4; ++i) {
                address h = hosts[((seed >> 3) + i) % 4];
                GhostHost storage g = ghosts[h];
                bool fits;
                if (want == Want.Registered) fits = _registered(g);
                else if (want == Want.Unregistered) fits = !_registered(g);
                else if (want == Want.Unbonding) fits = g.unbonding != 0;
                else fits = g.stake + g.unbonding != 0;
                if (fits) return h;
            }
        }
        return _host(seed >> 3);
    }

    /// @dev Registers the first `n` hosts with twice the minimum stake (called from setUp).
    function bootstrap(uint256 n) external {
        for (uint256 i; i < n; ++i) {
            address h = hosts[i];
            vm.prank(h);
            registry.register(_registration(2 * minimumStake, MAX_JOB_PRICE / 2));
            ghosts[h].status = INodeRegistry.HostStatus.Active;
            ghosts[h].stake = 2 * minimumStake;
        }
    }

    function _registered(GhostHost storage g) internal view returns (bool) {
        return g.status != INodeRegistry.HostStatus.Unregistered;
    }

    function _offers(uint64 price) internal pure returns (INodeRegistry.Offer[] memory offers) {
        offers = new INodeRegistry.Offer[](1);
        offers[0] = INodeRegistry.Offer({modelId: MODEL, token: ETH, pricePerToken: price});
    }

    function _registration(uint256 stake, uint64 price) internal pure returns (INodeRegistry.Registration memory r) {
        r.stake = stake;
        r.hardware = INodeRegistry.Hardware({gpuModel: bytes32("RTX 4090"), vramMiB: 24_576, gpuCount: 1});
        r.region = bytes32("eu-west");
        r.endpoints.httpUrl = "http://127.0.0.1:8080";
        r.metadataDigest = keccak256("metadata");
        r.offers = _offers(price);
    }

    // ---------------------------------------------------------------- registry actions

    function register(uint256 hostSeed, uint256 stakeSeed, uint256 priceSeed) external tick {
        address h = _pickHost(hostSeed, Want.Unregistered);
        GhostHost storage g = ghosts[h];
        uint256 stake = stakeSeed % 4 == 0
            ? bound(stakeSeed >> 2, 0, minimumStake)
            : bound(stakeSeed >> 2, minimumStake, 3 * minimumStake);
        uint64 price = uint64(bound(priceSeed, 1, MAX_JOB_PRICE));
        bool expectOk = !_registered(g) && stake >= minimumStake && !registryPaused && fab.balanceOf(h) >= stake;
        INodeRegistry.Registration memory r = _registration(stake, price);
        vm.prank(h);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.register, (r)));
        _record("register", expectOk, ok, err);
        if (!ok || !expectOk) return;
        g.status = INodeRegistry.HostStatus.Active;
        g.stake = stake;
    }

    function addStake(uint256 hostSeed, uint256 amountSeed) external tick {
        address h = _pickHost(hostSeed, Want.Registered);
        GhostHost storage g = ghosts[h];
        uint256 amount = amountSeed % 8 == 0 ? 0 : bound(amountSeed >> 3, 1, 2_000 * FAB);
        bool expectOk = _registered(g) && amount != 0 && !registryPaused && fab.balanceOf(h) >= amount;
        vm.prank(h);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.addStake, (amount)));
        _record("addStake", expectOk, ok, err);
        if (ok && expectOk) g.stake += amount;
    }

    function requestUnstake(uint256 hostSeed, uint256 amountSeed) external tick {
        address h = _pickHost(hostSeed, Want.Registered);
        GhostHost storage g = ghosts[h];
        uint256 amount;
        uint256 mode = amountSeed % 8;
        if (mode == 0) amount = 0;
        else if (mode == 1) amount = g.stake + 1;
        else if (mode < 5 && g.stake > minimumStake) amount = bound(amountSeed >> 3, 1, g.stake - minimumStake);
        else amount = bound(amountSeed >> 3, 1, g.stake == 0 ? 1 : g.stake);
        bool expectOk = _registered(g) && amount != 0 && amount <= g.stake
            && (g.stake - amount >= minimumStake || g.activeJobs == 0) && !registryPaused;
        vm.prank(h);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.requestUnstake, (amount)));
        _record("requestUnstake", expectOk, ok, err);
        if (!ok || !expectOk) return;
        g.stake -= amount;
        g.unbonding += amount;
        g.releaseAt = uint64(time) + unbondingPeriod;
    }

    function withdrawUnstaked(uint256 hostSeed) external tick {
        address h = _pickHost(hostSeed, Want.Unbonding);
        GhostHost storage g = ghosts[h];
        // Half the time wait exactly until the release time (the first second it is allowed).
        if ((hostSeed >> 8) % 2 == 0 && g.unbonding != 0 && time < g.releaseAt) {
            time = g.releaseAt;
            vm.warp(time);
        }
        bool expectOk = g.unbonding != 0 && time >= g.releaseAt && !registryPaused;
        uint256 before = fab.balanceOf(h);
        vm.prank(h);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.withdrawUnstaked, ()));
        _record("withdrawUnstaked", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (fab.balanceOf(h) != before + g.unbonding) _violate("withdrawUnstaked: wrong amount", "");
        g.unbonding = 0;
        g.releaseAt = 0;
    }

    function slash(uint256 hostSeed, uint256 amountSeed) external tick {
        address h = _pickHost(hostSeed, Want.Staked);
        GhostHost storage g = ghosts[h];
        uint256 total = g.stake + g.unbonding;
        uint256 amount;
        uint256 mode = amountSeed % 8;
        if (mode == 0) amount = 0;
        else if (mode == 1) amount = total + 1;
        else if (mode == 2) amount = total;
        else amount = bound(amountSeed >> 3, 1, total == 0 ? 1 : total);
        bool expectOk = amount != 0 && amount <= total;
        uint256 before = fab.balanceOf(victim);
        vm.prank(slasher);
        (bool ok, bytes memory err) =
            address(registry).call(abi.encodeCall(registry.slash, (h, amount, victim, keccak256("misbehaviour"))));
        _record("slash", expectOk, ok, err);
        if (!ok || !expectOk) return;
        if (fab.balanceOf(victim) != before + amount) _violate("slash: recipient got the wrong amount", "");
        uint256 fromStake = amount < g.stake ? amount : g.stake;
        g.stake -= fromStake;
        g.unbonding -= amount - fromStake;
        totalSlashed += amount;
    }

    function deregister(uint256 hostSeed) external tick {
        address h = _pickHost(hostSeed, Want.Registered);
        GhostHost storage g = ghosts[h];
        bool expectOk = _registered(g) && g.activeJobs == 0 && !registryPaused;
        vm.prank(h);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.deregister, ()));
        _record("deregister", expectOk, ok, err);
        if (!ok || !expectOk) return;
        g.status = INodeRegistry.HostStatus.Unregistered;
        g.unbonding += g.stake;
        g.stake = 0;
        g.contextLength = 0;
        g.releaseAt = uint64(time) + unbondingPeriod;
    }

    /// Resumes a paused host; pauses an active one one time in four; one time in eight asks for
    /// the status the host already has (which must revert).
    function setAvailable(uint256 hostSeed) external tick {
        address h = _pickHost(hostSeed, Want.Registered);
        GhostHost storage g = ghosts[h];
        bool active = g.status == INodeRegistry.HostStatus.Active;
        bool available;
        if ((hostSeed >> 8) % 8 == 0) available = active;
        else if (!active) available = true;
        else if ((hostSeed >> 8) % 4 == 1) available = false;
        else return;
        bool expectOk = _registered(g) && available != active && !registryPaused;
        vm.prank(h);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.setAvailable, (available)));
        _record("setAvailable", expectOk, ok, err);
        if (ok && expectOk) g.status = available ? INodeRegistry.HostStatus.Active : INodeRegistry.HostStatus.Paused;
    }

    /// Advertises MODEL's context length (every registration offers MODEL); one time in eight 0,
    /// which must revert.
    function setModelContext(uint256 hostSeed, uint256 lengthSeed) external tick {
        address h = _pickHost(hostSeed, Want.Registered);
        GhostHost storage g = ghosts[h];
        uint32 contextLength = lengthSeed % 8 == 0 ? 0 : uint32(bound(lengthSeed >> 3, 1, type(uint32).max));
        INodeRegistry.ModelContext[] memory contexts = new INodeRegistry.ModelContext[](1);
        contexts[0] = INodeRegistry.ModelContext({modelId: MODEL, contextLength: contextLength});
        bool expectOk = _registered(g) && contextLength != 0 && !registryPaused;
        vm.prank(h);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.setModelContexts, (contexts)));
        _record("setModelContexts", expectOk, ok, err);
        if (ok && expectOk) g.contextLength = contextLength;
    }

    // ---------------------------------------------------------------- admin

    function setMinimumStake(uint256 seed) external tick {
        uint256 minimum = bound(seed, 100 * FAB, 3_000 * FAB);
        vm.prank(admin);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.setMinimumStake, (minimum)));
        _record("setMinimumStake", true, ok, err);
        if (ok) minimumStake = minimum;
    }

    function setUnbondingPeriod(uint256 seed) external tick {
        uint64 period = seed % 8 == 0
            ? uint64(bound(seed >> 3, 90 days + 1, type(uint64).max))
            : uint64(bound(seed >> 3, 0, 14 days));
        bool expectOk = period <= 90 days;
        vm.prank(admin);
        (bool ok, bytes memory err) = address(registry).call(abi.encodeCall(registry.setUnbondingPeriod, (period)));
        _record("setUnbondingPeriod", expectOk, ok, err);
        if (ok && expectOk) unbondingPeriod = period;
    }

    /// Resumes the registry if paused, otherwise pauses it one time in eight.
    function togglePause(uint256 seed) external tick {
        if (!registryPaused && seed % 8 != 0) return;
        vm.prank(admin);
        (bool ok, bytes memory err) = address(registry).call(
            registryPaused ? abi.encodeCall(registry.unpause, ()) : abi.encodeCall(registry.pause, ())
        );
        _record("togglePause", true, ok, err);
        if (ok) registryPaused = !registryPaused;
    }

    // ---------------------------------------------------------------- jobs

    /// The renter posts an ETH job reserved for a host, which then tries to claim it.
    function postAndClaim(uint256 hostSeed, uint256 durationSeed) external tick {
        address h = _pickHost(hostSeed, Want.Registered);
        GhostHost storage g = ghosts[h];
        uint64 deadline = uint64(time + bound(durationSeed, 1 hours, 3 days));
        IJobMarketplace.JobRequest memory r = IJobMarketplace.JobRequest({
            modelId: MODEL,
            promptHash: keccak256(abi.encode(time, h)),
            token: ETH,
            maxTokens: 100,
            maxPricePerToken: MAX_JOB_PRICE,
            deadline: deadline,
            host: h,
            minScore: 0
        });
        vm.prank(renter);
        (bool ok, bytes memory ret) =
            address(marketplace).call{value: 100 * uint256(MAX_JOB_PRICE)}(abi.encodeCall(marketplace.postJob, (r)));
        _record("postJob", true, ok, ret);
        if (!ok) return;
        uint256 jobId = abi.decode(ret, (uint256));
        jobIds.push(jobId);
        jobs[jobId] = GhostJob({host: h, deadline: deadline, status: IJobMarketplace.JobStatus.Posted});

        // Every registration offers MODEL in ETH at no more than MAX_JOB_PRICE.
        bool expectOk = g.status == INodeRegistry.HostStatus.Active && g.stake >= minimumStake;
        vm.prank(h);
        bytes memory err;
        (ok, err) = address(marketplace).call(abi.encodeCall(marketplace.claimJob, (jobId)));
        _record("claimJob", expectOk, ok, err);
        if (!ok || !expectOk) return;
        jobs[jobId].status = IJobMarketplace.JobStatus.Claimed;
        g.activeJobs++;
    }

    /// Settles (complete + accept) or, one time in four, refuses a claimed job before its deadline,
    /// or expires it after: each frees the host's stake.
    function finishJob(uint256 jobSeed) external tick {
        uint256 n = jobIds.length;
        if (n == 0) return;
        for (uint256 i; i < n; ++i) {
            uint256 jobId = jobIds[(jobSeed + i) % n];
            GhostJob storage j = jobs[jobId];
            if (j.status != IJobMarketplace.JobStatus.Claimed) continue;
            bool ok;
            bytes memory err;
            if (time <= j.deadline && (jobSeed >> 8) % 4 == 0) {
                vm.prank(j.host);
                (ok, err) = address(marketplace).call(
                    abi.encodeCall(marketplace.refuseJob, (jobId, bytes32("prompt_too_long")))
                );
                _record("refuseJob", true, ok, err);
                if (!ok) return;
                j.status = IJobMarketplace.JobStatus.Refused;
            } else if (time <= j.deadline) {
                vm.prank(j.host);
                (ok, err) = address(marketplace).call(abi.encodeCall(marketplace.completeJob, (jobId, bytes32(0), 50)));
                _record("completeJob", true, ok, err);
                if (!ok) return;
                vm.prank(renter);
                (ok, err) = address(marketplace).call(abi.encodeCall(marketplace.acceptJob, (jobId)));
                _record("acceptJob", true, ok, err);
                if (!ok) return;
                j.status = IJobMarketplace.JobStatus.Settled;
            } else {
                (ok, err) = address(marketplace).call(abi.encodeCall(marketplace.expireJob, (jobId)));
                _record("expireJob", true, ok, err);
                if (!ok) return;
                j.status = IJobMarketplace.JobStatus.Expired;
            }
            ghosts[j.host].activeJobs--;
            return;
        }
    }

    function warp(uint256 secondsSeed) external {
        time += bound(secondsSeed, 1 minutes, 4 days);
        vm.warp(time);
    }
}

/// @notice Invariants of the NodeRegistry's stake accounting under random action sequences.
contract RegistryInvariantTest is FabstirTestBase {
    uint256 internal constant HOST_FAB = 20_000 * FAB;

    RegistryHandler internal handler;
    address internal victim = makeAddr("slashRecipient");

    function setUp() public {
        _deploySystem();
        address[4] memory hosts = [makeAddr("host0"), makeAddr("host1"), makeAddr("host2"), makeAddr("host3")];
        for (uint256 i; i < 4; ++i) {
            _fundHost(hosts[i], HOST_FAB);
        }
        address renter = makeAddr("renter");
        _fundRenter(renter, 1e30, 0);
        address slasher = makeAddr("slasher");
        bytes32 slasherRole = registry.SLASHER_ROLE();
        vm.startPrank(admin);
        registry.grantRole(slasherRole, slasher);
        // This suite models the registry's own slash (called by a slasher directly). An expired
        // claim would also slash through the ReputationSystem (an abandoned claim): that path and
        // its escalation are modelled in MarketplaceInvariant.t.sol, so here the marketplace
        // records no reputation and every slash is one the handler made.
        marketplace.setReputation(address(0));
        vm.stopPrank();

        handler = new RegistryHandler(registry, marketplace, fab, admin, slasher, victim, renter, hosts);
        handler.bootstrap(2);

        string[18] memory names = [
            "register(uint256,uint256,uint256)",
            "register(uint256,uint256,uint256)",
            "addStake(uint256,uint256)",
            "requestUnstake(uint256,uint256)",
            "requestUnstake(uint256,uint256)",
            "withdrawUnstaked(uint256)",
            "slash(uint256,uint256)",
            "deregister(uint256)",
            "setAvailable(uint256)",
            "setModelContext(uint256,uint256)",
            "setMinimumStake(uint256)",
            "setUnbondingPeriod(uint256)",
            "togglePause(uint256)",
            "postAndClaim(uint256,uint256)",
            "postAndClaim(uint256,uint256)",
            "finishJob(uint256)",
            "warp(uint256)",
            "warp(uint256)"
        ];
        bytes4[] memory selectors = new bytes4[](names.length);
        for (uint256 i; i < names.length; ++i) {
            selectors[i] = bytes4(keccak256(bytes(names[i])));
        }
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    /// Every call so far behaved as the model predicts (checked by every invariant, so that each
    /// invariant's campaign also hunts for model violations).
    function _assertModel() internal view {
        assertEq(handler.violations(), 0, handler.firstViolation());
    }

    function invariant_modelHoldsForEveryCall() public view {
        _assertModel();
    }

    /// The registry holds exactly the hosts' stake plus their unbonding stake.
    function invariant_registryHoldsStakePlusUnbonding() public view {
        _assertModel();
        uint256 sum;
        for (uint256 i; i < handler.hostCount(); ++i) {
            (, uint256 stake,, uint256 unbonding,) = registry.hostState(handler.host(i));
            sum += stake + unbonding;
        }
        assertEq(fab.balanceOf(address(registry)), sum, "registry FAB != stake + unbonding");
    }

    /// FAB only moves between the hosts, the registry and the slash recipient.
    function invariant_fabIsConserved() public view {
        _assertModel();
        uint256 sum = fab.balanceOf(address(registry)) + fab.balanceOf(victim);
        for (uint256 i; i < handler.hostCount(); ++i) {
            sum += fab.balanceOf(handler.host(i));
        }
        assertEq(sum, handler.hostCount() * HOST_FAB, "FAB created or lost");
        assertEq(fab.balanceOf(victim), handler.totalSlashed(), "slashed FAB went to the recipient");
    }

    /// Each host's on-chain state is the model's; an unregistered host has no stake and no open job.
    function invariant_hostStatesMatchModel() public view {
        _assertModel();
        for (uint256 i; i < handler.hostCount(); ++i) {
            address h = handler.host(i);
            RegistryHandler.GhostHost memory g = handler.ghost(h);
            (INodeRegistry.HostStatus status, uint256 stake,, uint256 unbonding, uint64 releaseAt) =
                registry.hostState(h);
            assertEq(uint256(status), uint256(g.status), "status");
            assertEq(stake, g.stake, "stake");
            assertEq(unbonding, g.unbonding, "unbonding");
            if (unbonding != 0) assertEq(releaseAt, g.releaseAt, "releaseAt");
            assertEq(marketplace.activeJobCount(h), g.activeJobs, "activeJobCount");
            // Advertised only while registered (deregistering clears it with the models).
            assertEq(registry.contextLengthOf(h, MODEL), g.contextLength, "contextLength");
            if (status == INodeRegistry.HostStatus.Unregistered) {
                assertEq(stake, 0, "unregistered host with stake");
                assertEq(g.activeJobs, 0, "unregistered host with open jobs");
            }
        }
        for (uint256 i; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobIdAt(i);
            assertEq(uint256(_status(id)), uint256(handler.ghostJob(id).status), "job status");
        }
    }

    /// Discovery lists exactly the active hosts (all of which offer MODEL).
    function invariant_discoveryListsActiveHosts() public view {
        _assertModel();
        (address[] memory page, uint256 total) = registry.activeHosts(0, 10);
        (address[] memory forModel, uint256 totalForModel) = registry.hostsForModel(MODEL, 0, 10);
        uint256 active;
        for (uint256 i; i < handler.hostCount(); ++i) {
            address h = handler.host(i);
            (INodeRegistry.HostStatus status,,,,) = registry.hostState(h);
            bool isActive = status == INodeRegistry.HostStatus.Active;
            if (isActive) ++active;
            assertEq(_contains(page, h), isActive, "activeHosts membership");
            assertEq(_contains(forModel, h), isActive, "hostsForModel membership");
            assertEq(registry.modelsOf(h).length, status == INodeRegistry.HostStatus.Unregistered ? 0 : 1, "models");
        }
        assertEq(total, active, "activeHosts total");
        assertEq(totalForModel, active, "hostsForModel total");
    }

    function _contains(address[] memory list, address a) internal pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == a) return true;
        }
        return false;
    }
}
