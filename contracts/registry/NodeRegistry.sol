// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IModelCatalog} from "../models/IModelCatalog.sol";
import {IFABCustody, IStakeObserver} from "../token/IFABCustody.sol";
import {IActiveJobCounter, INodeRegistry} from "./INodeRegistry.sol";

/// @title NodeRegistry
/// @notice Hosts stake FAB here and advertise what they sell: models, a price per
/// output token per model and payment token, each model's context length, hardware,
/// region and endpoints.
/// Renters discover hosts through the paginated views; the JobMarketplace asks
/// `checkEligible` before a host may claim a job.
/// @dev Stake leaves through an unbonding period. While a host has unfinished
/// jobs (per the marketplace) its stake cannot drop below the minimum. The
/// SLASHER_ROLE (held by the ReputationSystem) takes stake for misconduct. The open claims a
/// host may hold are bounded by its stake (checkClaim).
contract NodeRegistry is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransient,
    INodeRegistry
{
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.Bytes32Set;

    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");

    uint256 public constant MAX_MODELS = 32;
    uint256 public constant MAX_TOKENS_PER_MODEL = 8;
    uint256 public constant MAX_MULTIADDRS = 8;
    uint256 public constant MAX_STRING_BYTES = 256;
    uint256 public constant MAX_PEER_ID_BYTES = 64;
    uint64 public constant MAX_UNBONDING_PERIOD = 90 days;
    /// @notice Open claims a host may hold per minimum stake it has staked, unless governed otherwise.
    uint32 public constant DEFAULT_CLAIMS_PER_MINIMUM_STAKE = 8;
    uint32 public constant MAX_CLAIMS_PER_MINIMUM_STAKE = 1_000;

    /// @dev The slot the marketplace reads on every claim: stake and status together.
    struct HostState {
        uint128 stake;
        uint64 registeredAt;
        HostStatus status;
    }

    struct Unbonding {
        uint128 amount;
        uint64 releaseAt;
    }

    struct Profile {
        Hardware hardware;
        bytes32 region;
        bytes32 metadataDigest;
        Endpoints endpoints;
    }

    /// @custom:storage-location erc7201:fabstir.storage.NodeRegistry
    struct NodeRegistryStorage {
        IERC20 fab;
        uint128 minimumStake;
        uint64 unbondingPeriod;
        IActiveJobCounter marketplace;
        mapping(address host => HostState) hosts;
        mapping(address host => Unbonding) unbonding;
        mapping(address host => Profile) profiles;
        mapping(address host => mapping(bytes32 offerKey => uint64 price)) prices;
        mapping(address host => EnumerableSet.Bytes32Set) hostModels;
        mapping(address host => mapping(bytes32 modelId => EnumerableSet.AddressSet)) modelTokens;
        mapping(bytes32 modelId => EnumerableSet.AddressSet) modelHosts;
        EnumerableSet.AddressSet activeHosts;
        // Appended (upgrade-safe): cleared with the model in _removeModel.
        mapping(address host => mapping(bytes32 modelId => uint32 contextLength)) contextLengths;
        // Appended (upgrade-safe): 0 means DEFAULT_CLAIMS_PER_MINIMUM_STAKE.
        uint32 claimsPerMinimumStake;
        // Appended (upgrade-safe): told of every active-stake change (the StakersPool), or none.
        IStakeObserver stakeObserver;
        // Appended (upgrade-safe): offers at a nonzero price need a model listed here, or none.
        IModelCatalog modelCatalog;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.NodeRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0xb1849ed940e121315e41d940d6962b30ef7ab820ff68efd5f67fc07a1fb98a00;

    function _s() private pure returns (NodeRegistryStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy.
    /// @param admin receives DEFAULT_ADMIN_ROLE, PAUSER_ROLE and UPGRADER_ROLE.
    /// @param fabToken the staking token.
    /// @param initialMinimumStake the least stake an eligible host holds.
    /// @param initialUnbondingPeriod seconds between an unstake request and its withdrawal.
    function initialize(address admin, address fabToken, uint256 initialMinimumStake, uint64 initialUnbondingPeriod)
        external
        initializer
    {
        if (admin == address(0) || fabToken == address(0)) revert NodeRegistryZeroAddress();
        __AccessControl_init();
        __Pausable_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        NodeRegistryStorage storage $ = _s();
        $.fab = IERC20(fabToken);
        _setMinimumStake($, initialMinimumStake);
        _setUnbondingPeriod($, initialUnbondingPeriod);
    }

    // ---------------------------------------------------------------- registration

    /// @notice Registers the caller as a host, taking `r.stake` FAB (approved to this contract).
    function register(Registration calldata r) external nonReentrant whenNotPaused {
        _register(r);
    }

    /// @notice Registers using an EIP-2612 permit for the stake instead of a prior approval.
    function registerWithPermit(Registration calldata r, uint256 deadline, uint8 v, bytes32 rs, bytes32 s)
        external
        nonReentrant
        whenNotPaused
    {
        _permit(r.stake, deadline, v, rs, s);
        _register(r);
    }

    /// @notice Leaves the registry: all stake starts unbonding. Not allowed with unfinished jobs.
    function deregister() external nonReentrant whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        HostState memory h = _registered($, msg.sender);
        _requireNoActiveJobs($, msg.sender);
        bytes32[] memory models = $.hostModels[msg.sender].values();
        for (uint256 i; i < models.length; ++i) {
            _removeModel($, msg.sender, models[i]);
        }
        $.activeHosts.remove(msg.sender);
        delete $.hosts[msg.sender];
        delete $.profiles[msg.sender];
        (uint256 unbonding, uint64 releaseAt) = _startUnbonding($, msg.sender, h.stake);
        emit HostDeregistered(msg.sender, unbonding, releaseAt);
        _notifyStake($, msg.sender, 0);
    }

    /// @notice Pauses (false) or resumes (true) taking jobs without touching stake.
    function setAvailable(bool available) external whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        HostState storage h = $.hosts[msg.sender];
        HostStatus status = h.status;
        if (status == HostStatus.Unregistered) revert NodeRegistryNotRegistered(msg.sender);
        HostStatus next = available ? HostStatus.Active : HostStatus.Paused;
        if (status == next) revert NodeRegistrySameStatus(msg.sender, next);
        h.status = next;
        bytes32[] memory models = $.hostModels[msg.sender].values();
        for (uint256 i; i < models.length; ++i) {
            if (available) $.modelHosts[models[i]].add(msg.sender);
            else $.modelHosts[models[i]].remove(msg.sender);
        }
        if (available) $.activeHosts.add(msg.sender);
        else $.activeHosts.remove(msg.sender);
        emit HostStatusUpdated(msg.sender, next);
    }

    // ---------------------------------------------------------------- capabilities

    /// @notice Sets prices; a price of 0 withdraws that (model, token) offer, and a
    /// model left with no offer is removed.
    function setOffers(Offer[] calldata offers) external whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        _registered($, msg.sender);
        _setOffers($, msg.sender, offers);
    }

    /// @notice Advertises the context length (tokens per request) of models the caller offers.
    /// A model's context length is cleared when the model stops being offered (all its offers
    /// withdrawn) or the host deregisters; a re-added model starts without one.
    /// @param contexts at most MAX_MODELS entries, each for a model the caller offers now, with a
    /// context length above 0; a later entry for the same model wins.
    function setModelContexts(ModelContext[] calldata contexts) external whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        _registered($, msg.sender);
        if (contexts.length > MAX_MODELS) revert NodeRegistryTooMany("contexts", contexts.length, MAX_MODELS);
        EnumerableSet.Bytes32Set storage models = $.hostModels[msg.sender];
        for (uint256 i; i < contexts.length; ++i) {
            ModelContext calldata m = contexts[i];
            if (!models.contains(m.modelId)) revert NodeRegistryModelNotListed(msg.sender, m.modelId);
            if (m.contextLength == 0) revert NodeRegistryInvalidContextLength(m.modelId);
            $.contextLengths[msg.sender][m.modelId] = m.contextLength;
            emit ModelContextUpdated(msg.sender, m.modelId, m.contextLength);
        }
    }

    /// @notice Replaces the hardware summary.
    function updateHardware(Hardware calldata hardware) external whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        _registered($, msg.sender);
        _setHardware($, msg.sender, hardware);
    }

    /// @notice Replaces the region code.
    function updateRegion(bytes32 region) external whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        _registered($, msg.sender);
        $.profiles[msg.sender].region = region;
        emit HostRegionUpdated(msg.sender, region);
    }

    /// @notice Replaces the endpoints (peer id, multiaddrs, HTTP URL).
    function updateEndpoints(Endpoints calldata endpoints) external whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        _registered($, msg.sender);
        _setEndpoints($, msg.sender, endpoints);
    }

    /// @notice Replaces the metadata digest.
    function updateMetadata(bytes32 metadataDigest) external whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        _registered($, msg.sender);
        $.profiles[msg.sender].metadataDigest = metadataDigest;
        emit HostMetadataUpdated(msg.sender, metadataDigest);
    }

    // ---------------------------------------------------------------- stake

    /// @notice Adds `amount` FAB (approved to this contract) to the caller's stake.
    function addStake(uint256 amount) external nonReentrant whenNotPaused {
        _addStake(amount);
    }

    /// @notice Adds stake using an EIP-2612 permit.
    function addStakeWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        whenNotPaused
    {
        _permit(amount, deadline, v, r, s);
        _addStake(amount);
    }

    /// @notice Moves `amount` of stake into unbonding; withdraw it after the unbonding period.
    /// While the host has unfinished jobs its stake may not drop below the minimum.
    function requestUnstake(uint256 amount) external nonReentrant whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        HostState storage h = $.hosts[msg.sender];
        if (h.status == HostStatus.Unregistered) revert NodeRegistryNotRegistered(msg.sender);
        uint256 stake = h.stake;
        if (amount == 0) revert NodeRegistryInvalidAmount(0);
        if (amount > stake) revert NodeRegistryInsufficientStake(msg.sender, stake, amount);
        uint256 remaining = stake - amount;
        if (remaining < $.minimumStake) {
            uint256 active = $.marketplace == IActiveJobCounter(address(0)) ? 0 : $.marketplace.activeJobCount(msg.sender);
            if (active != 0) revert NodeRegistryUnfinishedJobs(msg.sender, active);
        }
        h.stake = uint128(remaining);
        (uint256 unbonding, uint64 releaseAt) = _startUnbonding($, msg.sender, amount);
        emit UnstakeRequested(msg.sender, amount, remaining, unbonding, releaseAt);
        _notifyStake($, msg.sender, remaining);
    }

    /// @notice Withdraws all unbonded stake once its unbonding period is over.
    function withdrawUnstaked() external nonReentrant whenNotPaused {
        NodeRegistryStorage storage $ = _s();
        Unbonding memory u = $.unbonding[msg.sender];
        if (u.amount == 0) revert NodeRegistryNothingToWithdraw(msg.sender);
        if (block.timestamp < u.releaseAt) revert NodeRegistryUnbondingNotOver(msg.sender, u.releaseAt);
        delete $.unbonding[msg.sender];
        emit UnstakeWithdrawn(msg.sender, u.amount);
        IFABCustody(address($.fab)).custodyOut(msg.sender, msg.sender, u.amount);
    }

    /// @notice Takes up to `amount` of `host`'s stake (then of its unbonding stake) and sends it to `recipient`.
    /// @param reason a digest identifying the cause (dispute id, proof failure, ...).
    function slash(address host, uint256 amount, address recipient, bytes32 reason)
        external
        nonReentrant
        onlyRole(SLASHER_ROLE)
    {
        if (recipient == address(0)) revert NodeRegistryZeroAddress();
        if (amount == 0) revert NodeRegistryInvalidAmount(0);
        NodeRegistryStorage storage $ = _s();
        HostState storage h = $.hosts[host];
        Unbonding storage u = $.unbonding[host];
        uint256 stake = h.stake;
        uint256 unbonding = u.amount;
        if (amount > stake + unbonding) revert NodeRegistryInsufficientStake(host, stake + unbonding, amount);
        uint256 fromStake = amount < stake ? amount : stake;
        // Cannot underflow: fromStake <= stake and amount - fromStake <= unbonding (checked above).
        unchecked {
            stake -= fromStake;
            unbonding -= amount - fromStake;
        }
        h.stake = uint128(stake);
        u.amount = uint128(unbonding);
        emit HostSlashed(host, recipient, amount, reason, stake, unbonding);
        if (fromStake != 0) _notifyStake($, host, stake);
        // The slashed FAB leaves custody: its votes go with it to the recipient.
        IFABCustody(address($.fab)).custodyOut(host, recipient, amount);
    }

    // ---------------------------------------------------------------- admin

    /// @notice Sets the least stake an eligible host holds.
    function setMinimumStake(uint256 newMinimum) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMinimumStake(_s(), newMinimum);
    }

    /// @notice Sets the unbonding period (at most MAX_UNBONDING_PERIOD).
    function setUnbondingPeriod(uint64 period) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setUnbondingPeriod(_s(), period);
    }

    /// @notice Sets how many open claims each minimum stake's worth of stake allows (1 to
    /// MAX_CLAIMS_PER_MINIMUM_STAKE): the value a host can hold hostage is bounded by its stake.
    function setClaimsPerMinimumStake(uint32 claims) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (claims == 0 || claims > MAX_CLAIMS_PER_MINIMUM_STAKE) revert NodeRegistryInvalidAmount(claims);
        NodeRegistryStorage storage $ = _s();
        emit ClaimsPerMinimumStakeUpdated(_claimsPerMinimumStake($), claims);
        $.claimsPerMinimumStake = claims;
    }

    /// @notice Sets the marketplace asked for a host's unfinished jobs.
    function setJobMarketplace(address marketplace) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (marketplace == address(0)) revert NodeRegistryZeroAddress();
        NodeRegistryStorage storage $ = _s();
        emit JobMarketplaceUpdated(address($.marketplace), marketplace);
        $.marketplace = IActiveJobCounter(marketplace);
    }

    /// @notice Sets the contract told of every host's active-stake change (the StakersPool, which
    /// pays hosts' registry stake its share of fees), or address(0) for none.
    function setStakeObserver(address observer) external onlyRole(DEFAULT_ADMIN_ROLE) {
        NodeRegistryStorage storage $ = _s();
        emit StakeObserverUpdated(address($.stakeObserver), observer);
        $.stakeObserver = IStakeObserver(observer);
    }

    /// @notice Sets the model catalog hosts' offers are checked against (a model offered at a
    /// nonzero price must be listed in it), or address(0) to accept any model. Offers made
    /// before stay; withdrawing an offer is always allowed.
    function setModelCatalog(address catalog) external onlyRole(DEFAULT_ADMIN_ROLE) {
        NodeRegistryStorage storage $ = _s();
        emit ModelCatalogUpdated(address($.modelCatalog), catalog);
        $.modelCatalog = IModelCatalog(catalog);
    }

    /// @notice Stops registration, capability and stake changes (slashing and eligibility checks
    /// go on): the guardian's emergency power.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes normal operation: governance only (the guardian cannot unpause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @notice The contract told of active-stake changes (address(0): none).
    function stakeObserver() external view returns (address) {
        return address(_s().stakeObserver);
    }

    /// @notice The model catalog offers are checked against (address(0): none).
    function modelCatalog() external view returns (address) {
        return address(_s().modelCatalog);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc INodeRegistry
    function checkEligible(address host, bytes32 key) external view returns (uint64 pricePerToken, uint256 stake) {
        return _checkEligible(_s(), host, key);
    }

    /// @inheritdoc INodeRegistry
    function checkClaim(address host, bytes32 key) external view returns (uint64 pricePerToken, uint256 capacity) {
        NodeRegistryStorage storage $ = _s();
        uint256 stake;
        (pricePerToken, stake) = _checkEligible($, host, key);
        capacity = stake / $.minimumStake * _claimsPerMinimumStake($);
    }

    /// @notice Open claims each minimum stake's worth of stake allows.
    function claimsPerMinimumStake() external view returns (uint32) {
        return _claimsPerMinimumStake(_s());
    }

    /// @notice The key prices are stored under: keccak256(abi.encode(modelId, token)).
    function offerKey(bytes32 modelId, address token) public pure returns (bytes32) {
        return keccak256(abi.encode(modelId, token));
    }

    /// @notice `host`'s price for `modelId` paid in `token` (0 = not offered).
    function priceOf(address host, bytes32 modelId, address token) external view returns (uint64) {
        return _s().prices[host][offerKey(modelId, token)];
    }

    /// @notice Stake, status, registration time and unbonding state of `host`.
    function hostState(address host)
        external
        view
        returns (HostStatus status, uint256 stake, uint64 registeredAt, uint256 unbonding, uint64 releaseAt)
    {
        NodeRegistryStorage storage $ = _s();
        HostState memory h = $.hosts[host];
        Unbonding memory u = $.unbonding[host];
        return (h.status, h.stake, h.registeredAt, u.amount, u.releaseAt);
    }

    /// @notice Hardware, region, metadata and endpoints of `host`.
    function profileOf(address host) external view returns (Profile memory) {
        return _s().profiles[host];
    }

    /// @notice The models `host` offers.
    function modelsOf(address host) external view returns (bytes32[] memory) {
        return _s().hostModels[host].values();
    }

    /// @notice The context length `host` advertises for `modelId` (0 = not advertised).
    function contextLengthOf(address host, bytes32 modelId) external view returns (uint32) {
        return _s().contextLengths[host][modelId];
    }

    /// @notice The payment tokens `host` accepts for `modelId`.
    function tokensOf(address host, bytes32 modelId) external view returns (address[] memory) {
        return _s().modelTokens[host][modelId].values();
    }

    /// @notice A page of active hosts, and their total count. Order is not stable across writes.
    function activeHosts(uint256 offset, uint256 limit) external view returns (address[] memory page, uint256 total) {
        return _page(_s().activeHosts, offset, limit);
    }

    /// @notice A page of active hosts offering `modelId`, and their total count.
    function hostsForModel(bytes32 modelId, uint256 offset, uint256 limit)
        external
        view
        returns (address[] memory page, uint256 total)
    {
        return _page(_s().modelHosts[modelId], offset, limit);
    }

    /// @notice The staking token.
    function fab() external view returns (address) {
        return address(_s().fab);
    }

    /// @notice The least stake an eligible host holds.
    function minimumStake() external view returns (uint256) {
        return _s().minimumStake;
    }

    /// @notice Seconds between an unstake request and its withdrawal.
    function unbondingPeriod() external view returns (uint64) {
        return _s().unbondingPeriod;
    }

    /// @notice The marketplace asked for unfinished jobs.
    function jobMarketplace() external view returns (address) {
        return address(_s().marketplace);
    }

    // ---------------------------------------------------------------- internals

    function _register(Registration calldata r) private {
        NodeRegistryStorage storage $ = _s();
        HostState storage h = $.hosts[msg.sender];
        if (h.status != HostStatus.Unregistered) revert NodeRegistryAlreadyRegistered(msg.sender);
        uint256 minimum = $.minimumStake;
        if (r.stake < minimum) revert NodeRegistryStakeBelowMinimum(msg.sender, r.stake, minimum);
        h.stake = uint128(r.stake);
        h.registeredAt = uint64(block.timestamp);
        h.status = HostStatus.Active;
        $.activeHosts.add(msg.sender);
        Profile storage p = $.profiles[msg.sender];
        p.region = r.region;
        p.metadataDigest = r.metadataDigest;
        _validateHardware(r.hardware);
        p.hardware = r.hardware;
        emit HostRegistered(msg.sender, r.stake, r.hardware, r.region, r.metadataDigest);
        _setEndpoints($, msg.sender, r.endpoints);
        _setOffers($, msg.sender, r.offers);
        _pullFab($, r.stake);
        _notifyStake($, msg.sender, r.stake);
    }

    function _addStake(uint256 amount) private {
        if (amount == 0 || amount > type(uint128).max) revert NodeRegistryInvalidAmount(amount);
        NodeRegistryStorage storage $ = _s();
        HostState storage h = $.hosts[msg.sender];
        if (h.status == HostStatus.Unregistered) revert NodeRegistryNotRegistered(msg.sender);
        uint256 stake = h.stake + amount;
        h.stake = SafeCast.toUint128(stake);
        emit StakeAdded(msg.sender, amount, stake);
        _pullFab($, amount);
        _notifyStake($, msg.sender, stake);
    }

    /// @dev Takes the stake into custody: the host keeps its FAB votes while staked.
    function _pullFab(NodeRegistryStorage storage $, uint256 amount) private {
        if (amount > type(uint128).max) revert NodeRegistryInvalidAmount(amount);
        IFABCustody(address($.fab)).custodyIn(msg.sender, amount);
    }

    function _notifyStake(NodeRegistryStorage storage $, address host, uint256 stake) private {
        IStakeObserver observer = $.stakeObserver;
        if (address(observer) != address(0)) observer.onHostStakeChanged(host, stake);
    }

    function _permit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        // A front-runner may have submitted the same permit already; the allowance is what matters.
        try IERC20Permit(address(_s().fab)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
    }

    function _startUnbonding(NodeRegistryStorage storage $, address host, uint256 amount)
        private
        returns (uint256 total, uint64 releaseAt)
    {
        Unbonding storage u = $.unbonding[host];
        total = u.amount + amount;
        releaseAt = uint64(block.timestamp) + $.unbondingPeriod;
        u.amount = SafeCast.toUint128(total);
        u.releaseAt = releaseAt;
    }

    function _setOffers(NodeRegistryStorage storage $, address host, Offer[] calldata offers) private {
        HostStatus status = $.hosts[host].status;
        IModelCatalog catalog = $.modelCatalog;
        for (uint256 i; i < offers.length; ++i) {
            Offer calldata o = offers[i];
            if (o.modelId == bytes32(0)) revert NodeRegistryInvalidModel();
            EnumerableSet.AddressSet storage tokens = $.modelTokens[host][o.modelId];
            if (o.pricePerToken == 0) {
                if (!tokens.remove(o.token)) continue;
                if (tokens.length() == 0) _removeModel($, host, o.modelId);
            } else {
                if (address(catalog) != address(0) && !catalog.isListed(o.modelId)) {
                    revert NodeRegistryModelNotInCatalog(o.modelId);
                }
                if ($.hostModels[host].add(o.modelId)) {
                    uint256 count = $.hostModels[host].length();
                    if (count > MAX_MODELS) revert NodeRegistryTooMany("models", count, MAX_MODELS);
                    if (status == HostStatus.Active) $.modelHosts[o.modelId].add(host);
                    emit ModelAdded(host, o.modelId);
                }
                if (tokens.add(o.token) && tokens.length() > MAX_TOKENS_PER_MODEL) {
                    revert NodeRegistryTooMany("tokens", tokens.length(), MAX_TOKENS_PER_MODEL);
                }
            }
            $.prices[host][offerKey(o.modelId, o.token)] = o.pricePerToken;
            emit PriceUpdated(host, o.modelId, o.token, o.pricePerToken);
        }
    }

    function _removeModel(NodeRegistryStorage storage $, address host, bytes32 modelId) private {
        EnumerableSet.AddressSet storage tokens = $.modelTokens[host][modelId];
        address[] memory remaining = tokens.values();
        for (uint256 i; i < remaining.length; ++i) {
            delete $.prices[host][offerKey(modelId, remaining[i])];
            tokens.remove(remaining[i]);
        }
        $.hostModels[host].remove(modelId);
        $.modelHosts[modelId].remove(host);
        if ($.contextLengths[host][modelId] != 0) {
            delete $.contextLengths[host][modelId];
            emit ModelContextUpdated(host, modelId, 0);
        }
        emit ModelRemoved(host, modelId);
    }

    function _setHardware(NodeRegistryStorage storage $, address host, Hardware calldata hardware) private {
        _validateHardware(hardware);
        $.profiles[host].hardware = hardware;
        emit HostHardwareUpdated(host, hardware);
    }

    function _validateHardware(Hardware calldata hardware) private pure {
        if (hardware.gpuCount != 0 && hardware.vramMiB == 0) revert NodeRegistryInvalidHardware();
    }

    function _setEndpoints(NodeRegistryStorage storage $, address host, Endpoints calldata e) private {
        if (e.peerId.length > MAX_PEER_ID_BYTES) revert NodeRegistryTooLong("peerId", e.peerId.length, MAX_PEER_ID_BYTES);
        if (bytes(e.httpUrl).length > MAX_STRING_BYTES) {
            revert NodeRegistryTooLong("httpUrl", bytes(e.httpUrl).length, MAX_STRING_BYTES);
        }
        if (e.multiaddrs.length > MAX_MULTIADDRS) {
            revert NodeRegistryTooMany("multiaddrs", e.multiaddrs.length, MAX_MULTIADDRS);
        }
        for (uint256 i; i < e.multiaddrs.length; ++i) {
            uint256 len = bytes(e.multiaddrs[i]).length;
            if (len > MAX_STRING_BYTES) revert NodeRegistryTooLong("multiaddr", len, MAX_STRING_BYTES);
        }
        $.profiles[host].endpoints = e;
        emit HostEndpointsUpdated(host, e.peerId, e.multiaddrs, e.httpUrl);
    }

    function _checkEligible(NodeRegistryStorage storage $, address host, bytes32 key)
        private
        view
        returns (uint64 pricePerToken, uint256 stake)
    {
        HostState memory h = $.hosts[host];
        if (h.status != HostStatus.Active) revert NodeRegistryHostNotActive(host, h.status);
        uint256 minimum = $.minimumStake;
        if (h.stake < minimum) revert NodeRegistryStakeBelowMinimum(host, h.stake, minimum);
        pricePerToken = $.prices[host][key];
        if (pricePerToken == 0) revert NodeRegistryModelNotOffered(host, key);
        stake = h.stake;
    }

    function _claimsPerMinimumStake(NodeRegistryStorage storage $) private view returns (uint32) {
        uint32 c = $.claimsPerMinimumStake;
        return c == 0 ? DEFAULT_CLAIMS_PER_MINIMUM_STAKE : c;
    }

    function _registered(NodeRegistryStorage storage $, address host) private view returns (HostState memory h) {
        h = $.hosts[host];
        if (h.status == HostStatus.Unregistered) revert NodeRegistryNotRegistered(host);
    }

    function _requireNoActiveJobs(NodeRegistryStorage storage $, address host) private view {
        if ($.marketplace == IActiveJobCounter(address(0))) return;
        uint256 active = $.marketplace.activeJobCount(host);
        if (active != 0) revert NodeRegistryUnfinishedJobs(host, active);
    }

    function _setMinimumStake(NodeRegistryStorage storage $, uint256 newMinimum) private {
        if (newMinimum == 0 || newMinimum > type(uint128).max) revert NodeRegistryInvalidAmount(newMinimum);
        emit MinimumStakeUpdated($.minimumStake, newMinimum);
        $.minimumStake = uint128(newMinimum);
    }

    function _setUnbondingPeriod(NodeRegistryStorage storage $, uint64 period) private {
        if (period > MAX_UNBONDING_PERIOD) revert NodeRegistryInvalidUnbondingPeriod(period);
        emit UnbondingPeriodUpdated($.unbondingPeriod, period);
        $.unbondingPeriod = period;
    }

    function _page(EnumerableSet.AddressSet storage set, uint256 offset, uint256 limit)
        private
        view
        returns (address[] memory page, uint256 total)
    {
        total = set.length();
        if (offset >= total) return (new address[](0), total);
        uint256 end = limit > total - offset ? total : offset + limit;
        page = new address[](end - offset);
        for (uint256 i; i < page.length; ++i) {
            page[i] = set.at(offset + i);
        }
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
