// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title INodeRegistry
/// @notice Types, events, errors and the marketplace-facing API of the NodeRegistry.
interface INodeRegistry {
    enum HostStatus {
        Unregistered,
        Active,
        Paused
    }

    /// @notice A host's hardware summary.
    /// @param gpuModel the GPU model name, UTF-8, right-padded with zeros (e.g. "RTX 4090").
    struct Hardware {
        bytes32 gpuModel;
        uint32 vramMiB;
        uint16 gpuCount;
    }

    /// @notice Where renters reach a host.
    /// @param peerId the libp2p peer id (multihash bytes).
    struct Endpoints {
        bytes peerId;
        string[] multiaddrs;
        string httpUrl;
    }

    /// @notice A price for one model in one payment token (address(0) = ETH).
    /// A price of 0 withdraws the offer.
    struct Offer {
        bytes32 modelId;
        address token;
        uint64 pricePerToken;
    }

    /// @notice The context length (in tokens) a host serves one of its models with, so renters
    /// can tell before posting whether a prompt fits.
    /// @param modelId a model the host currently offers.
    /// @param contextLength the most tokens (prompt and output together) per request; never 0.
    struct ModelContext {
        bytes32 modelId;
        uint32 contextLength;
    }

    /// @notice Everything a host declares when it registers.
    /// @param region a short region code, UTF-8 right-padded (e.g. "eu-west").
    /// @param metadataDigest digest of an off-chain metadata document (a CID is rebuilt from it).
    struct Registration {
        uint256 stake;
        Hardware hardware;
        bytes32 region;
        Endpoints endpoints;
        bytes32 metadataDigest;
        Offer[] offers;
    }

    event HostRegistered(
        address indexed host, uint256 stake, Hardware hardware, bytes32 region, bytes32 metadataDigest
    );
    event HostDeregistered(address indexed host, uint256 unbonding, uint64 releaseAt);
    event HostStatusUpdated(address indexed host, HostStatus status);
    event HostHardwareUpdated(address indexed host, Hardware hardware);
    event HostRegionUpdated(address indexed host, bytes32 region);
    event HostEndpointsUpdated(address indexed host, bytes peerId, string[] multiaddrs, string httpUrl);
    event HostMetadataUpdated(address indexed host, bytes32 metadataDigest);
    event ModelAdded(address indexed host, bytes32 indexed modelId);
    event ModelRemoved(address indexed host, bytes32 indexed modelId);
    /// @notice A host advertised the context length of one of its models; 0 means cleared (the
    /// model is no longer offered, or the host deregistered).
    event ModelContextUpdated(address indexed host, bytes32 indexed modelId, uint32 contextLength);
    /// @notice A price was set; 0 means the offer was withdrawn.
    event PriceUpdated(address indexed host, bytes32 indexed modelId, address indexed token, uint256 pricePerToken);
    event StakeAdded(address indexed host, uint256 amount, uint256 stake);
    event UnstakeRequested(address indexed host, uint256 amount, uint256 stake, uint256 unbonding, uint64 releaseAt);
    event UnstakeWithdrawn(address indexed host, uint256 amount);
    event HostSlashed(
        address indexed host,
        address indexed recipient,
        uint256 amount,
        bytes32 reason,
        uint256 stake,
        uint256 unbonding
    );
    event MinimumStakeUpdated(uint256 previous, uint256 current);
    event UnbondingPeriodUpdated(uint64 previous, uint64 current);
    event JobMarketplaceUpdated(address indexed previous, address indexed current);
    event ClaimsPerMinimumStakeUpdated(uint32 previous, uint32 current);
    event StakeObserverUpdated(address indexed previous, address indexed current);
    /// @notice The model catalog offers are checked against changed (address(0): none, any model).
    event ModelCatalogUpdated(address indexed previous, address indexed current);

    error NodeRegistryZeroAddress();
    error NodeRegistryAlreadyRegistered(address host);
    error NodeRegistryNotRegistered(address host);
    error NodeRegistryHostNotActive(address host, HostStatus status);
    error NodeRegistryStakeBelowMinimum(address host, uint256 stake, uint256 minimum);
    error NodeRegistryModelNotOffered(address host, bytes32 offerKey);
    error NodeRegistryInvalidAmount(uint256 amount);
    error NodeRegistryInsufficientStake(address host, uint256 stake, uint256 requested);
    error NodeRegistryUnfinishedJobs(address host, uint256 activeJobs);
    error NodeRegistryUnbondingNotOver(address host, uint64 releaseAt);
    error NodeRegistryNothingToWithdraw(address host);
    error NodeRegistryTooMany(string what, uint256 count, uint256 max);
    error NodeRegistryTooLong(string what, uint256 length, uint256 max);
    error NodeRegistryInvalidHardware();
    error NodeRegistryInvalidModel();
    error NodeRegistryInvalidUnbondingPeriod(uint64 period);
    error NodeRegistrySameStatus(address host, HostStatus status);
    /// @notice `host` offers `modelId` in no payment token, so it cannot advertise its context length.
    error NodeRegistryModelNotListed(address host, bytes32 modelId);
    /// @notice A context length of 0 was given for `modelId` (0 only ever means "cleared").
    error NodeRegistryInvalidContextLength(bytes32 modelId);
    /// @notice A model catalog is set and `modelId` is not listed in it, so it cannot be offered.
    error NodeRegistryModelNotInCatalog(bytes32 modelId);

    /// @notice Reverts unless `host` is active, staked at least the minimum and offers
    /// `offerKey` (= keccak256(abi.encode(modelId, token))); returns its price and its stake
    /// (without unbonding stake), which a caller that asks the ReputationSystem for the host's
    /// fee discount passes on (ReputationSystem.feeDiscountAt) instead of having it read again.
    function checkEligible(address host, bytes32 offerKey) external view returns (uint64 pricePerToken, uint256 stake);

    /// @notice `checkEligible`, and how many jobs `host` may hold claimed at once: its stake
    /// (without unbonding stake) divided by the minimum stake, times claimsPerMinimumStake.
    function checkClaim(address host, bytes32 offerKey) external view returns (uint64 pricePerToken, uint256 capacity);
}

/// @notice What the registry asks the marketplace before letting stake go.
interface IActiveJobCounter {
    /// @notice Jobs `host` has claimed that are not yet settled, expired or refused.
    function activeJobCount(address host) external view returns (uint256);
}
