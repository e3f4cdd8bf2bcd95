// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IFabstirTreasury
/// @notice Events, errors and the external API of the FabstirTreasury: the protocol's share of
/// every payment (collected from the PaymentEscrow), split into a buyback reserve that keepers
/// swap into FAB through a Uniswap V2 router and free funds that only governance releases.
/// @dev The native coin (ETH) is `address(0)` everywhere, as in the escrow. Every event carries
/// the state it leaves behind (or enough to derive it), so an indexer never reads the chain.
interface IFabstirTreasury {
    /// @notice What happens to the FAB a buyback buys.
    enum BuybackDestination {
        /// Burned: the supply shrinks by what was bought.
        Burn,
        /// Sent to the stakers pool, which is then asked to `sync(fab)`.
        StakersPool
    }

    /// @notice The treasury was set up: the escrow it collects from and the token it buys.
    event TreasuryInitialized(address indexed escrow, address indexed fab);
    /// @notice `arrived` of `token` (fees from the escrow plus anything sent directly) was
    /// accounted: `toReserve` went to the buyback reserve, `toFree` to the free funds. `reserve`
    /// and `free` are the totals afterwards (they can also shrink here if the token's balance
    /// fell below what was accounted, e.g. a negative rebase).
    event Synced(
        address indexed token, uint256 arrived, uint256 toReserve, uint256 toFree, uint256 reserve, uint256 free
    );
    /// @notice `escrow.collectFees(token, Treasury)` reverted during a sync; whatever had already
    /// arrived was still accounted.
    event FeeCollectionFailed(address indexed token, bytes reason);
    /// @notice `amountIn` of `token`'s buyback reserve bought `fabOut` FAB, which went to
    /// `destination` (burned, or sent to the stakers pool of the time).
    event BuybackExecuted(address indexed token, uint256 amountIn, uint256 fabOut, BuybackDestination destination);
    /// @notice The stakers pool's `sync(fab)` reverted after a buyback paid it; the FAB stays there.
    event StakersPoolSyncFailed(address indexed pool, bytes reason);
    /// @notice Governance paid `amount` of `token`'s free funds to `to`.
    event Released(address indexed token, address indexed to, uint256 amount);
    event BuybackShareUpdated(uint16 previous, uint16 current);
    event MaxSlippageUpdated(uint16 previous, uint16 current);
    event BuybackDestinationUpdated(BuybackDestination previous, BuybackDestination current);
    /// @notice The route `token` (address(0) for ETH, whose route starts with WETH) is swapped
    /// along to reach FAB.
    event SwapPathUpdated(address indexed token, address[] path);
    event RouterUpdated(address indexed previous, address indexed current);
    event StakersPoolUpdated(address indexed previous, address indexed current);

    error FabstirTreasuryZeroAddress();
    error FabstirTreasuryInvalidAmount(uint256 amount);
    /// @notice The buyback share is above MAX_BUYBACK_BPS.
    error FabstirTreasuryInvalidBuybackShare(uint16 bps);
    /// @notice The slippage bound is 0 or above MAX_SLIPPAGE_BPS.
    error FabstirTreasuryInvalidSlippage(uint16 bps);
    /// @notice Not a BuybackDestination, or StakersPool while no pool is set.
    error FabstirTreasuryInvalidDestination(uint8 destination);
    /// @notice The path does not go from `token` (WETH for ETH) to FAB in 2 to 4 hops' tokens.
    error FabstirTreasuryInvalidSwapPath(address token, address[] path);
    /// @notice No swap path is set for `token`.
    error FabstirTreasuryNoSwapPath(address token);
    /// @notice A buyback asked for more than the reserve of `token` holds.
    error FabstirTreasuryInsufficientReserve(address token, uint256 reserve, uint256 requested);
    /// @notice A release asked for more than the free funds of `token`.
    error FabstirTreasuryInsufficientFreeBalance(address token, uint256 free, uint256 requested);
    /// @notice The caller's `minFabOut` is below the router's quote less the slippage bound.
    error FabstirTreasurySlippageTooLoose(uint256 minFabOut, uint256 floor, uint256 quote);
    /// @notice The stakers pool cannot be unset while buybacks are sent to it.
    error FabstirTreasuryStakersPoolInUse();
    error FabstirTreasuryNativeTransferFailed(address to, uint256 amount);

    /// @notice Collects the treasury's fees of `token` from the escrow and splits whatever arrived
    /// since the last sync: the buyback share to the reserve, the rest to the free funds. Anyone
    /// may call.
    function sync(address token) external;

    /// @notice Swaps `amountIn` of `token`'s buyback reserve into FAB along the governed path and
    /// burns it or sends it to the stakers pool. KEEPER_ROLE or DEFAULT_ADMIN_ROLE only.
    /// @param minFabOut the least FAB to accept; must not be below the router's quote less
    /// `maxSlippageBps`.
    /// @param deadline the router's deadline (unix seconds).
    /// @return fabOut the FAB bought.
    function buyback(address token, uint256 amountIn, uint256 minFabOut, uint256 deadline)
        external
        returns (uint256 fabOut);

    /// @notice Pays `amount` of `token`'s free funds (never the buyback reserve) to `to`.
    /// DEFAULT_ADMIN_ROLE only.
    function release(address token, address to, uint256 amount) external;

    /// @notice The buyback reserve of `token`, as of the last sync.
    function buybackReserve(address token) external view returns (uint256);

    /// @notice The free (releasable) funds of `token`, as of the last sync.
    function freeBalance(address token) external view returns (uint256);

    /// @notice The share of arrivals that goes to the buyback reserve, in basis points.
    function buybackShare() external view returns (uint16);

    /// @notice How far below the router's quote a buyback's `minFabOut` may be, in basis points.
    function maxSlippageBps() external view returns (uint16);

    /// @notice What buybacks do with the FAB they buy.
    function buybackDestination() external view returns (BuybackDestination);

    /// @notice The route `token` (address(0) for ETH) is swapped along; empty when none is set.
    function swapPath(address token) external view returns (address[] memory);

    /// @notice The Uniswap V2 router buybacks swap through.
    function router() external view returns (address);

    /// @notice The FAB token.
    function fab() external view returns (address);

    /// @notice The PaymentEscrow whose treasury fees this contract collects.
    function escrow() external view returns (address);

    /// @notice The stakers pool (address(0): none).
    function stakersPool() external view returns (address);
}
