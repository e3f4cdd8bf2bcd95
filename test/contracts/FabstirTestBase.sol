// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";
import {PaymentEscrow} from "../../contracts/escrow/PaymentEscrow.sol";
import {JobMarketplace} from "../../contracts/marketplace/JobMarketplace.sol";
import {IJobMarketplace} from "../../contracts/marketplace/IJobMarketplace.sol";
import {FabstirProxy} from "../../contracts/proxy/FabstirProxy.sol";
import {INodeRegistry} from "../../contracts/registry/INodeRegistry.sol";
import {NodeRegistry} from "../../contracts/registry/NodeRegistry.sol";
import {ReputationSystem} from "../../contracts/reputation/ReputationSystem.sol";
import {SessionManager} from "../../contracts/sessions/SessionManager.sol";
import {TestStablecoin} from "../../contracts/test/TestStablecoin.sol";
import {FABToken} from "../../contracts/token/FABToken.sol";

/// @notice Deploys the Fabstir core the way ignition/modules/Fabstir.ts and LocalDev.ts do
/// (every contract a UUPS implementation behind a FabstirProxy, initialized through the
/// proxy's constructor data, then wired) and offers helpers shared by the fuzz and
/// invariant suites.
library FabstirDeployer {
    struct System {
        FABToken fab;
        PaymentEscrow escrow;
        NodeRegistry registry;
        JobMarketplace marketplace;
        SessionManager sessions;
        ReputationSystem reputation;
        TestStablecoin usd;
    }

    struct Params {
        address admin;
        address treasury;
        address stakersPool;
        uint256 fabSupply;
        uint256 minimumStake;
        uint64 unbondingPeriod;
        uint32 disputeWindow;
        uint32 closeWindow;
    }

    /// @dev Deploys the six proxies and the stablecoin; `p.admin` gets every role and the FAB
    /// supply (as the Ignition module's account 0 does). The wiring is left to the caller.
    function deploy(Params memory p) internal returns (System memory s) {
        FABToken fabImpl = new FABToken();
        s.fab = FABToken(
            address(
                new FabstirProxy(
                    address(fabImpl), abi.encodeCall(FABToken.initialize, (p.admin, p.admin, p.fabSupply))
                )
            )
        );

        PaymentEscrow escrowImpl = new PaymentEscrow();
        s.escrow = PaymentEscrow(
            address(
                new FabstirProxy(
                    address(escrowImpl),
                    abi.encodeCall(PaymentEscrow.initialize, (p.admin, p.treasury, p.stakersPool))
                )
            )
        );

        NodeRegistry registryImpl = new NodeRegistry();
        s.registry = NodeRegistry(
            address(
                new FabstirProxy(
                    address(registryImpl),
                    abi.encodeCall(
                        NodeRegistry.initialize, (p.admin, address(s.fab), p.minimumStake, p.unbondingPeriod)
                    )
                )
            )
        );

        JobMarketplace marketplaceImpl = new JobMarketplace(address(s.registry), address(s.escrow));
        s.marketplace = JobMarketplace(
            address(
                new FabstirProxy(
                    address(marketplaceImpl), abi.encodeCall(JobMarketplace.initialize, (p.admin, p.disputeWindow))
                )
            )
        );

        SessionManager sessionsImpl = new SessionManager(address(s.registry), address(s.escrow));
        s.sessions = SessionManager(
            address(
                new FabstirProxy(
                    address(sessionsImpl), abi.encodeCall(SessionManager.initialize, (p.admin, p.closeWindow))
                )
            )
        );

        ReputationSystem reputationImpl = new ReputationSystem();
        s.reputation = ReputationSystem(
            address(
                new FabstirProxy(
                    address(reputationImpl),
                    abi.encodeCall(ReputationSystem.initialize, (p.admin, address(s.registry), p.treasury))
                )
            )
        );

        s.usd = new TestStablecoin();
    }
}

abstract contract FabstirTestBase is Test {
    uint256 internal constant FAB = 1e18;
    uint256 internal constant USD = 1e6;
    uint256 internal constant FAB_SUPPLY = 1_000_000_000 * FAB;
    uint256 internal constant MIN_STAKE = 1_000 * FAB;
    uint64 internal constant UNBONDING = 7 days;
    uint32 internal constant DISPUTE_WINDOW = 1 days;
    uint32 internal constant CLOSE_WINDOW = 1 hours;
    uint256 internal constant START_TIME = 1_750_000_000;
    uint16 internal constant BPS = 10_000;

    address internal constant ETH = address(0);
    bytes32 internal constant MODEL = bytes32("llama-3.1-8b-q4_k_m");
    bytes32 internal constant OTHER_MODEL = bytes32("smollm-135m");
    bytes32 internal constant PROMPT = keccak256("What is the capital of France?");
    bytes32 internal constant OUTPUT = keccak256("Paris.");

    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");
    address internal stakersPool = makeAddr("stakersPool");

    FABToken internal fab;
    PaymentEscrow internal escrow;
    NodeRegistry internal registry;
    JobMarketplace internal marketplace;
    SessionManager internal sessions;
    ReputationSystem internal reputation;
    TestStablecoin internal usd;

    /// @dev Deploys and wires the system with the default parameters; `admin` holds every role
    /// and the FAB supply.
    function _deploySystem() internal {
        _deploySystem(FAB_SUPPLY);
    }

    function _deploySystem(uint256 fabSupply) internal {
        vm.warp(START_TIME);
        FabstirDeployer.System memory s = FabstirDeployer.deploy(
            FabstirDeployer.Params({
                admin: admin,
                treasury: treasury,
                stakersPool: stakersPool,
                fabSupply: fabSupply,
                minimumStake: MIN_STAKE,
                unbondingPeriod: UNBONDING,
                disputeWindow: DISPUTE_WINDOW,
                closeWindow: CLOSE_WINDOW
            })
        );
        fab = s.fab;
        escrow = s.escrow;
        registry = s.registry;
        marketplace = s.marketplace;
        sessions = s.sessions;
        reputation = s.reputation;
        usd = s.usd;

        vm.startPrank(admin);
        // The registry holds stake in custody (hosts keep their votes), as the Ignition module grants.
        fab.grantRole(fab.CUSTODIAN_ROLE(), address(registry));
        escrow.setLocker(address(marketplace), true);
        escrow.setLocker(address(sessions), true);
        registry.setJobMarketplace(address(marketplace));
        escrow.setTokenAllowed(address(usd), true);
        // The reputation system as the Ignition module wires it: it slashes through the registry,
        // records the marketplace's and the sessions' work and gives the escrow its fee discounts.
        registry.grantRole(registry.SLASHER_ROLE(), address(reputation));
        reputation.setSources(address(marketplace), address(sessions));
        reputation.setRecorder(address(marketplace), true);
        reputation.setRecorder(address(sessions), true);
        reputation.setRatingUnit(ETH, 1 gwei);
        reputation.setRatingUnit(address(usd), 10);
        marketplace.setReputation(address(reputation));
        sessions.setReputation(address(reputation));
        escrow.setFeeDiscounts(address(reputation));
        vm.stopPrank();

        vm.label(address(fab), "FAB");
        vm.label(address(escrow), "PaymentEscrow");
        vm.label(address(registry), "NodeRegistry");
        vm.label(address(marketplace), "JobMarketplace");
        vm.label(address(sessions), "SessionManager");
        vm.label(address(reputation), "ReputationSystem");
        vm.label(address(usd), "tUSD");
    }

    // ---------------------------------------------------------------- actors

    /// @dev Gives `host` FAB and an unlimited registry allowance.
    function _fundHost(address host, uint256 fabAmount) internal {
        vm.prank(admin);
        fab.transfer(host, fabAmount);
        vm.prank(host);
        fab.approve(address(registry), type(uint256).max);
    }

    /// @dev Gives `renter` ETH and tUSD, and an unlimited escrow allowance for tUSD.
    function _fundRenter(address renter, uint256 ethAmount, uint256 usdAmount) internal {
        vm.deal(renter, ethAmount);
        usd.mint(renter, usdAmount);
        vm.prank(renter);
        usd.approve(address(escrow), type(uint256).max);
    }

    function _registration(uint256 stake, INodeRegistry.Offer[] memory offers)
        internal
        pure
        returns (INodeRegistry.Registration memory r)
    {
        string[] memory multiaddrs = new string[](1);
        multiaddrs[0] = "/ip4/127.0.0.1/tcp/4001";
        r.stake = stake;
        r.hardware = INodeRegistry.Hardware({gpuModel: bytes32("RTX 4090"), vramMiB: 24_576, gpuCount: 1});
        r.region = bytes32("eu-west");
        r.endpoints = INodeRegistry.Endpoints({
            peerId: hex"0024080112201111111111111111111111111111111111111111111111111111111111",
            multiaddrs: multiaddrs,
            httpUrl: "http://127.0.0.1:8080"
        });
        r.metadataDigest = keccak256("metadata");
        r.offers = offers;
    }

    /// @dev Registers `host` (already funded) with `stake` and one MODEL offer per non-zero price.
    function _register(address host, uint256 stake, uint64 ethPrice, uint64 usdPrice) internal {
        uint256 n = (ethPrice != 0 ? 1 : 0) + (usdPrice != 0 ? 1 : 0);
        INodeRegistry.Offer[] memory offers = new INodeRegistry.Offer[](n);
        uint256 i;
        if (ethPrice != 0) offers[i++] = INodeRegistry.Offer({modelId: MODEL, token: ETH, pricePerToken: ethPrice});
        if (usdPrice != 0) {
            offers[i++] = INodeRegistry.Offer({modelId: MODEL, token: address(usd), pricePerToken: usdPrice});
        }
        vm.prank(host);
        registry.register(_registration(stake, offers));
    }

    function _setPrice(address host, bytes32 modelId, address token, uint64 price) internal {
        INodeRegistry.Offer[] memory offers = new INodeRegistry.Offer[](1);
        offers[0] = INodeRegistry.Offer({modelId: modelId, token: token, pricePerToken: price});
        vm.prank(host);
        registry.setOffers(offers);
    }

    function _request(address token, uint32 maxTokens, uint64 maxPrice, uint64 deadline, address host)
        internal
        pure
        returns (IJobMarketplace.JobRequest memory)
    {
        return IJobMarketplace.JobRequest({
            modelId: MODEL,
            promptHash: PROMPT,
            token: token,
            maxTokens: maxTokens,
            maxPricePerToken: maxPrice,
            deadline: deadline,
            host: host,
            minScore: 0
        });
    }

    /// @dev Posts an open MODEL job due in one hour; pays the exact deposit (ETH) or relies on the
    /// renter's escrow allowance (ERC-20).
    function _post(address renter, address token, uint32 maxTokens, uint64 maxPrice) internal returns (uint256) {
        return _postFull(renter, token, maxTokens, maxPrice, uint64(block.timestamp + 1 hours), address(0));
    }

    function _postFull(address renter, address token, uint32 maxTokens, uint64 maxPrice, uint64 deadline, address host)
        internal
        returns (uint256 jobId)
    {
        uint256 deposit = uint256(maxTokens) * maxPrice;
        IJobMarketplace.JobRequest memory r = _request(token, maxTokens, maxPrice, deadline, host);
        vm.prank(renter);
        jobId = marketplace.postJob{value: token == ETH ? deposit : 0}(r);
    }

    /// @dev `renter` disputes the completed `jobId`, funded with exactly its bond (ETH sent as value,
    /// tUSD minted; the renter's escrow allowance covers it). Returns the bond.
    function _dispute(address renter, uint256 jobId) internal returns (uint256 bond) {
        bond = marketplace.disputeBondOf(jobId);
        (,, address token) = marketplace.getJob(jobId);
        if (token == ETH) vm.deal(renter, renter.balance + bond);
        else usd.mint(renter, bond);
        vm.prank(renter);
        marketplace.disputeJob{value: token == ETH ? bond : 0}(jobId, keccak256("bad output"));
    }

    /// @dev The escrow id of a job's dispute bond (JobMarketplace.BOND_ID | jobId).
    function _bondId(uint256 jobId) internal pure returns (uint256) {
        return jobId | (uint256(1) << 255);
    }

    function _status(uint256 jobId) internal view returns (IJobMarketplace.JobStatus) {
        (IJobMarketplace.Job memory job,,) = marketplace.getJob(jobId);
        return job.status;
    }

    function _lockedAmount(uint256 jobId) internal view returns (uint256 amount) {
        (, amount) = escrow.lockOf(address(marketplace), jobId);
    }

    function _fees(address token) internal view returns (uint256 treasuryFees, uint256 stakersFees) {
        return escrow.feesOf(token);
    }
}
