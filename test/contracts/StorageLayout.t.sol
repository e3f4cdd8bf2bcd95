// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IJobMarketplace} from "../../contracts/marketplace/IJobMarketplace.sol";
import {INodeRegistry} from "../../contracts/registry/INodeRegistry.sol";
import {ISessionManager} from "../../contracts/sessions/ISessionManager.sol";
import {FabstirTestBase} from "./FabstirTestBase.sol";

/// @notice The ERC-7201 namespace constants hard-coded in the contracts must be the slots the
/// formula gives, and the first fields of each namespace must sit where the structs say.
contract StorageLayoutTest is FabstirTestBase {
    function setUp() public {
        _deploySystem();
    }

    function _erc7201(string memory namespace) internal pure returns (bytes32) {
        return keccak256(abi.encode(uint256(keccak256(bytes(namespace))) - 1)) & ~bytes32(uint256(0xff));
    }

    function _low(bytes32 word, uint256 shift, uint256 bits) internal pure returns (uint256) {
        return (uint256(word) >> shift) & ((uint256(1) << bits) - 1);
    }

    function test_erc7201_formulaMatchesDocumentedConstants() public pure {
        assertEq(
            _erc7201("fabstir.storage.PaymentEscrow"),
            0xa69f861d9f8b0d887c0bced1b78600ea650ddbc02812b60b2ec1d49d430ac200,
            "PaymentEscrow"
        );
        assertEq(
            _erc7201("fabstir.storage.NodeRegistry"),
            0xb1849ed940e121315e41d940d6962b30ef7ab820ff68efd5f67fc07a1fb98a00,
            "NodeRegistry"
        );
        assertEq(
            _erc7201("fabstir.storage.JobMarketplace"),
            0x89d6ae10e84318e46560931e52aeafde0e8fd06f9ecbe25b58c516312dd35b00,
            "JobMarketplace"
        );
        assertEq(
            _erc7201("fabstir.storage.SessionManager"),
            0xa460b482b20af2742789f7d80e24fe8aadf57c846b630654f447af12bc346c00,
            "SessionManager"
        );
    }

    /// Config { uint16 hostBps; uint16 treasuryBps; uint16 stakersBps; address feeDiscounts } then
    /// treasury, stakersPool in the next slots, and the lockers mapping appended last (base + 7).
    /// feeDiscounts (the trust layer) was appended inside the config slot's free bytes.
    /// @dev The sessions change (issue 12) removed `marketplace` from Config and keyed `locks` by
    /// locker: that layout is not upgrade-compatible with the escrow before it, which is fine only
    /// while no escrow of the old layout holds value anywhere (redeploy, never upgrade in place).
    function test_paymentEscrow_namespaceHoldsConfig() public view {
        bytes32 base = _erc7201("fabstir.storage.PaymentEscrow");
        bytes32 config = vm.load(address(escrow), base);
        assertEq(_low(config, 0, 16), 8_500, "hostBps");
        assertEq(_low(config, 16, 16), 1_000, "treasuryBps");
        assertEq(_low(config, 32, 16), 500, "stakersBps");
        assertEq(_low(config, 48, 160), uint160(address(reputation)), "feeDiscounts");
        assertEq(escrow.feeDiscounts(), address(reputation), "feeDiscounts as the escrow reads it");
        assertEq(_low(config, 208, 48), 0, "nothing else in the config slot");
        assertEq(address(uint160(uint256(vm.load(address(escrow), bytes32(uint256(base) + 1))))), treasury);
        assertEq(address(uint160(uint256(vm.load(address(escrow), bytes32(uint256(base) + 2))))), stakersPool);
        bytes32 lockerSlot = keccak256(abi.encode(address(marketplace), uint256(base) + 7));
        assertEq(uint256(vm.load(address(escrow), lockerSlot)), 1, "lockers[marketplace]");
    }

    /// locks: mapping(locker => mapping(id => Lock)) at base + 4; a Lock is { token; uint96 amount }.
    function test_paymentEscrow_locksAreKeyedByLocker() public {
        address renter = makeAddr("renter");
        address host = makeAddr("host");
        _fundHost(host, MIN_STAKE);
        _register(host, MIN_STAKE, 1 gwei, 0);
        _fundRenter(renter, 1 ether, 0);
        uint256 jobId = _post(renter, ETH, 1_000, 1 gwei);
        bytes32 base = _erc7201("fabstir.storage.PaymentEscrow");
        bytes32 inner = keccak256(abi.encode(address(marketplace), uint256(base) + 4));
        bytes32 word = vm.load(address(escrow), keccak256(abi.encode(jobId, inner)));
        assertEq(address(uint160(uint256(word))), ETH, "lock.token");
        assertEq(_low(word, 160, 96), 1_000 gwei, "lock.amount");
    }

    /// Config { uint64 nextSessionId; uint32 closeWindow; bool paused } then the terms and states
    /// mappings (a state is one slot: deposit | paid | tokens | closeAt). The id counter and the
    /// terms mapping are retired (ids are terms hashes) but keep their places.
    function test_sessionManager_namespaceHoldsConfigTermsAndStates() public {
        bytes32 base = _erc7201("fabstir.storage.SessionManager");
        assertEq(base, 0xa460b482b20af2742789f7d80e24fe8aadf57c846b630654f447af12bc346c00, "documented constant");
        bytes32 config = vm.load(address(sessions), base);
        assertEq(_low(config, 0, 64), 0, "nextSessionId (retired: 0 on a fresh deployment)");
        assertEq(_low(config, 64, 32), CLOSE_WINDOW, "closeWindow");
        assertEq(_low(config, 96, 8), 0, "paused");

        address renter = makeAddr("renter");
        address host = makeAddr("host");
        _fundHost(host, MIN_STAKE);
        _register(host, MIN_STAKE, 1 gwei, 0);
        _fundRenter(renter, 1 ether, 0);
        vm.prank(renter);
        uint256 id = sessions.openSession{value: 1_000 gwei}(
            ISessionManager.SessionRequest({
                host: host,
                modelId: MODEL,
                token: ETH,
                signer: address(0),
                maxPricePerToken: 1 gwei,
                deposit: 1_000 gwei,
                expiry: uint64(block.timestamp + 1 days),
                minScore: 0,
                salt: 7
            })
        );
        // The retired id counter and terms mapping stay in place, untouched by new sessions.
        assertEq(_low(vm.load(address(sessions), base), 0, 64), 0, "nextSessionId (retired)");
        bytes32 terms = vm.load(address(sessions), keccak256(abi.encode(id, uint256(base) + 1)));
        assertEq(terms, bytes32(0), "terms[id] (retired)");
        assertEq(sessions.termsHash(id), bytes32(id), "the id is the terms' hash");
        bytes32 st = vm.load(address(sessions), keccak256(abi.encode(id, uint256(base) + 2)));
        assertEq(_low(st, 0, 96), 1_000 gwei, "state.deposit");
        assertEq(_low(st, 96, 96), 0, "state.paid");
        assertEq(_low(st, 192, 32), 0, "state.tokens");
        assertEq(_low(st, 224, 32), 0, "state.closeAt");
    }

    /// { IERC20 fab; uint128 minimumStake; uint64 unbondingPeriod; IActiveJobCounter marketplace; ... }
    function test_nodeRegistry_namespaceHoldsConfig() public view {
        bytes32 base = _erc7201("fabstir.storage.NodeRegistry");
        assertEq(address(uint160(uint256(vm.load(address(registry), base)))), address(fab), "fab");
        bytes32 word = vm.load(address(registry), bytes32(uint256(base) + 1));
        assertEq(_low(word, 0, 128), MIN_STAKE, "minimumStake");
        assertEq(_low(word, 128, 64), UNBONDING, "unbondingPeriod");
        assertEq(
            address(uint160(uint256(vm.load(address(registry), bytes32(uint256(base) + 2))))),
            address(marketplace),
            "marketplace"
        );
    }

    /// The context lengths were appended to the namespace (upgrade-safe): after fab, the packed
    /// minimum and unbonding period, marketplace, hosts, unbonding, profiles, prices, hostModels,
    /// modelTokens, modelHosts and activeHosts (an EnumerableSet: two slots), at base + 12.
    function test_nodeRegistry_contextLengthsAppendedAfterExistingFields() public {
        address host = makeAddr("host");
        _fundHost(host, MIN_STAKE);
        _register(host, MIN_STAKE, 1 gwei, 0);
        INodeRegistry.ModelContext[] memory contexts = new INodeRegistry.ModelContext[](1);
        contexts[0] = INodeRegistry.ModelContext({modelId: MODEL, contextLength: 8_192});
        vm.prank(host);
        registry.setModelContexts(contexts);
        bytes32 base = _erc7201("fabstir.storage.NodeRegistry");
        bytes32 inner = keccak256(abi.encode(host, uint256(base) + 12));
        bytes32 slot = keccak256(abi.encode(MODEL, inner));
        assertEq(uint256(vm.load(address(registry), slot)), 8_192, "contextLengths[host][model]");
    }

    /// Config { uint64 nextJobId; uint32 nextOfferId; uint32 disputeWindow; bool paused } and the
    /// jobs mapping in the next slot (a job's first slot starts with its renter).
    function test_jobMarketplace_namespaceHoldsConfigAndJobs() public {
        bytes32 base = _erc7201("fabstir.storage.JobMarketplace");
        bytes32 config = vm.load(address(marketplace), base);
        assertEq(_low(config, 0, 64), 1, "nextJobId");
        assertEq(_low(config, 64, 32), 1, "nextOfferId");
        assertEq(_low(config, 96, 32), DISPUTE_WINDOW, "disputeWindow");
        assertEq(_low(config, 128, 8), 0, "paused");

        address renter = makeAddr("renter");
        _fundRenter(renter, 1 ether, 0);
        uint256 jobId = _post(renter, ETH, 1_000, 1 gwei);
        assertEq(jobId, 1);
        config = vm.load(address(marketplace), base);
        assertEq(_low(config, 0, 64), 2, "nextJobId after a post");
        assertEq(_low(config, 64, 32), 2, "nextOfferId after the first offer");

        bytes32 jobSlot = keccak256(abi.encode(jobId, uint256(base) + 1));
        bytes32 first = vm.load(address(marketplace), jobSlot);
        assertEq(address(uint160(uint256(first))), renter, "job.renter");
        assertEq(_low(first, 160, 32), block.timestamp + 1 hours, "job.timeout");
        assertEq(_low(first, 192, 24), 1_000, "job.maxTokens");
        assertEq(_low(first, 216, 8), 1, "job.status == Posted");
        assertEq(_low(first, 224, 32), 1, "job.offerId");
        bytes32 second = vm.load(address(marketplace), bytes32(uint256(jobSlot) + 1));
        assertEq(address(uint160(uint256(second))), address(0), "job.host");
        assertEq(_low(second, 160, 64), 1 gwei, "job.pricePerToken");
    }

    /// Refused was appended to JobStatus: the stored values of the earlier states did not move.
    function test_jobMarketplace_refusedIsAppendedToJobStatus() public {
        assertEq(uint8(IJobMarketplace.JobStatus.Expired), 7, "Expired keeps its value");
        assertEq(uint8(IJobMarketplace.JobStatus.Refused), 8, "Refused is last");
        address host = makeAddr("host");
        address renter = makeAddr("renter");
        _fundHost(host, MIN_STAKE);
        _register(host, MIN_STAKE, 1 gwei, 0);
        _fundRenter(renter, 1 ether, 0);
        uint256 jobId = _post(renter, ETH, 1_000, 1 gwei);
        vm.startPrank(host);
        marketplace.claimJob(jobId);
        marketplace.refuseJob(jobId, bytes32("prompt_too_long"));
        vm.stopPrank();
        bytes32 base = _erc7201("fabstir.storage.JobMarketplace");
        bytes32 first = vm.load(address(marketplace), keccak256(abi.encode(jobId, uint256(base) + 1)));
        assertEq(_low(first, 216, 8), 8, "job.status == Refused");
    }

    /// Slashing { seven uint16 shares and thresholds; uint32 halfLife } fills the first 144 bits
    /// of the namespace's first slot; the number of stake tiers plus one was appended inside its
    /// free bytes (bits 144-151), so that a fee discount reads it with the parameters instead of
    /// the tiers' length from a slot of its own. A proxy whose tiers were set before that field
    /// existed holds 0 there: it reads the length instead, and gives the same discounts.
    function test_reputationSystem_paramsMirrorTheStakeTierCount() public {
        bytes32 base = _erc7201("fabstir.storage.ReputationSystem");
        assertEq(base, 0x34c14be2f5becbfe870d3054d156e03255a646199038bff191d94cca944f7500, "documented constant");
        bytes32 params = vm.load(address(reputation), base);
        assertEq(_low(params, 80, 16), 800, "discountMinScore");
        assertEq(_low(params, 96, 16), 2_000, "discountBps");
        assertEq(_low(params, 112, 32), 30 days, "halfLife");
        assertEq(_low(params, 144, 8), 1, "no tiers after initialize: 0 + 1");
        assertEq(_low(params, 152, 104), 0, "nothing else in the slot");

        uint128[] memory minStakes = new uint128[](2);
        minStakes[0] = uint128(2 * MIN_STAKE);
        minStakes[1] = uint128(5 * MIN_STAKE);
        uint16[] memory discounts = new uint16[](2);
        discounts[0] = 1_000;
        discounts[1] = 2_000;
        vm.prank(admin);
        reputation.setStakeTiers(minStakes, discounts);
        params = vm.load(address(reputation), base);
        assertEq(_low(params, 144, 8), 3, "two tiers: 2 + 1");

        address host = makeAddr("host");
        _fundHost(host, 2 * MIN_STAKE);
        _register(host, 2 * MIN_STAKE, 1 gwei, 0);
        // A new host scores 500, below the reputation discount's 800: only its tier counts.
        uint16[3] memory atStakes = [
            reputation.feeDiscountAt(host, MIN_STAKE),
            reputation.feeDiscountAt(host, 2 * MIN_STAKE),
            reputation.feeDiscountAt(host, 5 * MIN_STAKE)
        ];
        assertEq(atStakes[0], 0);
        assertEq(atStakes[1], 1_000);
        assertEq(atStakes[2], 2_000);
        assertEq(reputation.feeDiscountBps(host), 1_000, "at its registry stake");

        // As on a proxy upgraded from an implementation without the field: the tiers still count.
        vm.store(address(reputation), base, bytes32(uint256(params) & ~(uint256(0xff) << 144)));
        assertEq(reputation.feeDiscountAt(host, MIN_STAKE), atStakes[0], "legacy: below the tiers");
        assertEq(reputation.feeDiscountAt(host, 2 * MIN_STAKE), atStakes[1], "legacy: first tier");
        assertEq(reputation.feeDiscountAt(host, 5 * MIN_STAKE), atStakes[2], "legacy: second tier");
        assertEq(reputation.feeDiscountBps(host), 1_000, "legacy: at its registry stake");
        (uint256 tier, uint16 tierBps) = reputation.stakeTierOf(host);
        assertEq(tier, 1);
        assertEq(tierBps, 1_000);

        // The next change of the tiers sets the field again.
        vm.prank(admin);
        reputation.setStakeTiers(new uint128[](0), new uint16[](0));
        assertEq(_low(vm.load(address(reputation), base), 144, 8), 1, "no tiers again: 0 + 1");
        assertEq(reputation.feeDiscountAt(host, 5 * MIN_STAKE), 0, "no tiers: no tier discount");
    }
}
