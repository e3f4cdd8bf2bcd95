// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IPaymentEscrow} from "../escrow/IPaymentEscrow.sol";
import {IFabstirTreasury} from "./IFabstirTreasury.sol";

/// @dev The part of Uniswap V2's Router02 a buyback uses.
interface IBuybackRouter {
    function WETH() external view returns (address);
    function getAmountsOut(uint256 amountIn, address[] calldata path) external view returns (uint256[] memory);
    function swapExactETHForTokens(uint256 amountOutMin, address[] calldata path, address to, uint256 deadline)
        external
        payable
        returns (uint256[] memory);
    function swapExactTokensForTokens(
        uint256 amountIn,
        uint256 amountOutMin,
        address[] calldata path,
        address to,
        uint256 deadline
    ) external returns (uint256[] memory);
}

/// @dev The PaymentEscrow's fee collection (not part of its locker-facing IPaymentEscrow).
interface IFeeCollector {
    function collectFees(address token, IPaymentEscrow.FeeKind kind) external;
}

/// @dev FABToken's burn of the caller's own tokens.
interface IFABBurnable {
    function burn(uint256 amount) external;
}

/// @dev What the treasury tells the stakers pool after paying it bought FAB.
interface IStakersPoolSync {
    function sync(address token) external;
}

/// @title FabstirTreasury
/// @notice The protocol treasury: it receives the treasury's share of every payment from the
/// PaymentEscrow, puts a governed share of it (`buybackShare`) in a per-token buyback reserve
/// and keeps the rest as free funds that only governance releases. Keepers swap the reserve
/// into FAB through a Uniswap V2 router; the FAB bought is burned or paid to the stakers pool.
/// @dev Accounting: for every token, `reserve + free` is what the treasury had accounted at its
/// last `sync`; anything arriving later (fees, or a plain transfer) is split at the next sync.
///
/// Slippage: a buyback's `minFabOut` is the caller's own bound, and the contract refuses one
/// below the router's current quote (`getAmountsOut`) less `maxSlippageBps`. That quote is read
/// from the pool's spot reserves in the same transaction, so it does NOT protect against a pool
/// moved earlier in the same block (a sandwich): it only stops a keeper from accepting an
/// arbitrarily bad price. Protection against manipulation comes from `minFabOut`, which the
/// keeper computes off chain from a price it trusts; that is why buybacks are restricted to
/// KEEPER_ROLE (and governance) rather than open to anyone.
///
/// Roles: DEFAULT_ADMIN_ROLE (governance's timelock) sets the parameters, releases free funds and
/// unpauses; PAUSER_ROLE (the guardian) only pauses buybacks and releases, and never moves funds;
/// KEEPER_ROLE runs buybacks within the governed bounds; UPGRADER_ROLE upgrades (UUPS).
contract FabstirTreasury is
    Initializable,
    AccessControlUpgradeable,
    PausableUpgradeable,
    UUPSUpgradeable,
    ReentrancyGuardTransient,
    IFabstirTreasury
{
    using SafeERC20 for IERC20;

    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    /// @notice May run buybacks (within the governed slippage bound and the reserve).
    bytes32 public constant KEEPER_ROLE = keccak256("KEEPER_ROLE");

    /// @notice Basis-point denominator.
    uint16 public constant BPS = 10_000;
    /// @notice The buyback share can never be set above this.
    uint16 public constant MAX_BUYBACK_BPS = 5_000;
    /// @notice The slippage bound can never be set above this.
    uint16 public constant MAX_SLIPPAGE_BPS = 1_000;
    /// @notice The slippage bound a new treasury starts with.
    uint16 public constant DEFAULT_MAX_SLIPPAGE_BPS = 100;
    /// @notice Shortest and longest swap path (tokens, so 1 to 3 pools).
    uint256 public constant MIN_PATH_LENGTH = 2;
    uint256 public constant MAX_PATH_LENGTH = 4;

    /// @dev What a buyback reads: one slot.
    struct Config {
        IBuybackRouter router;
        uint16 buybackBps;
        uint16 maxSlippageBps;
        BuybackDestination destination;
    }

    /// @custom:storage-location erc7201:fabstir.storage.FabstirTreasury
    struct FabstirTreasuryStorage {
        Config config;
        IFeeCollector escrow;
        address fab;
        address stakersPool;
        mapping(address token => uint256) reserves;
        mapping(address token => uint256) free;
        mapping(address token => address[]) swapPaths;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.FabstirTreasury")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0x4ea674700806e55b9a75bfc6fafc2c19498401080455222a6af7d381b2d67300;

    function _s() private pure returns (FabstirTreasuryStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy. Buybacks burn what they buy, the slippage bound is
    /// DEFAULT_MAX_SLIPPAGE_BPS and ETH is swapped along [router.WETH(), fab].
    /// @param admin receives DEFAULT_ADMIN_ROLE, PAUSER_ROLE and UPGRADER_ROLE (not KEEPER_ROLE:
    /// governance grants that).
    /// @param escrow_ the PaymentEscrow whose treasury fees this contract collects.
    /// @param fab_ the FAB token buybacks buy.
    /// @param router_ the Uniswap V2 router buybacks swap through.
    /// @param stakersPool_ the stakers pool (address(0): none yet).
    /// @param buybackBps the share of arrivals put in the buyback reserve (at most MAX_BUYBACK_BPS).
    function initialize(
        address admin,
        address escrow_,
        address fab_,
        address router_,
        address stakersPool_,
        uint16 buybackBps
    ) external initializer {
        if (admin == address(0) || escrow_ == address(0) || fab_ == address(0) || router_ == address(0)) {
            revert FabstirTreasuryZeroAddress();
        }
        __AccessControl_init();
        __Pausable_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        FabstirTreasuryStorage storage $ = _s();
        $.escrow = IFeeCollector(escrow_);
        $.fab = fab_;
        emit TreasuryInitialized(escrow_, fab_);
        $.config.router = IBuybackRouter(router_);
        emit RouterUpdated(address(0), router_);
        $.stakersPool = stakersPool_;
        emit StakersPoolUpdated(address(0), stakersPool_);
        _setBuybackShare($, buybackBps);
        _setMaxSlippage($, DEFAULT_MAX_SLIPPAGE_BPS);
        emit BuybackDestinationUpdated(BuybackDestination.Burn, BuybackDestination.Burn);
        _setEthPath($, IBuybackRouter(router_).WETH(), fab_);
    }

    /// @notice Accepts ETH (the escrow's fee payouts, or anyone's); it is accounted at the next
    /// `sync(address(0))`.
    receive() external payable {}

    // ---------------------------------------------------------------- flows

    /// @inheritdoc IFabstirTreasury
    /// @dev Not pausable: it only brings funds in. A failing collection (the escrow paused, say)
    /// does not stop the accounting of what already arrived.
    function sync(address token) external nonReentrant {
        FabstirTreasuryStorage storage $ = _s();
        try $.escrow.collectFees(token, IPaymentEscrow.FeeKind.Treasury) {}
        catch (bytes memory reason) {
            emit FeeCollectionFailed(token, reason);
        }
        uint256 balance = token == address(0) ? address(this).balance : IERC20(token).balanceOf(address(this));
        uint256 reserve = $.reserves[token];
        uint256 free = $.free[token];
        uint256 accounted = reserve + free;
        uint256 arrived;
        uint256 toReserve;
        if (balance >= accounted) {
            // Cannot underflow: checked just above; toReserve <= arrived as buybackBps <= BPS.
            unchecked {
                arrived = balance - accounted;
                toReserve = arrived * $.config.buybackBps / BPS;
                free += arrived - toReserve;
            }
            reserve += toReserve;
        } else {
            // The balance fell below what was accounted (a rebasing or seized token): the loss is
            // taken from the free funds first, then from the reserve.
            // Cannot underflow: shortfall <= accounted = reserve + free, and each branch checks.
            unchecked {
                uint256 shortfall = accounted - balance;
                if (shortfall <= free) {
                    free -= shortfall;
                } else {
                    reserve -= shortfall - free;
                    free = 0;
                }
            }
        }
        $.reserves[token] = reserve;
        $.free[token] = free;
        // Cannot underflow: toReserve <= arrived.
        unchecked {
            emit Synced(token, arrived, toReserve, arrived - toReserve, reserve, free);
        }
    }

    /// @inheritdoc IFabstirTreasury
    /// @dev A reserve of FAB itself (fees paid in FAB) is burned or paid out as it is, without a
    /// swap. ERC-20s are approved for exactly `amountIn`, which the router spends in full.
    function buyback(address token, uint256 amountIn, uint256 minFabOut, uint256 deadline)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 fabOut)
    {
        if (!hasRole(KEEPER_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, KEEPER_ROLE);
        }
        if (amountIn == 0) revert FabstirTreasuryInvalidAmount(0);
        FabstirTreasuryStorage storage $ = _s();
        uint256 reserve = $.reserves[token];
        if (amountIn > reserve) revert FabstirTreasuryInsufficientReserve(token, reserve, amountIn);
        // Cannot underflow: checked just above.
        unchecked {
            $.reserves[token] = reserve - amountIn;
        }
        Config memory c = $.config;
        address fabToken = $.fab;
        fabOut = token == fabToken ? amountIn : _swap($, c, token, fabToken, amountIn, minFabOut, deadline);
        emit BuybackExecuted(token, amountIn, fabOut, c.destination);
        if (c.destination == BuybackDestination.Burn) {
            IFABBurnable(fabToken).burn(fabOut);
        } else {
            address pool = $.stakersPool;
            IERC20(fabToken).safeTransfer(pool, fabOut);
            // A high-level call to an address without code reverts in the caller (the compiler's
            // extcodesize check is not caught by try/catch), hence the guard.
            if (pool.code.length != 0) {
                try IStakersPoolSync(pool).sync(fabToken) {}
                catch (bytes memory reason) {
                    emit StakersPoolSyncFailed(pool, reason);
                }
            }
        }
    }

    /// @inheritdoc IFabstirTreasury
    function release(address token, address to, uint256 amount)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        nonReentrant
        whenNotPaused
    {
        if (to == address(0)) revert FabstirTreasuryZeroAddress();
        if (amount == 0) revert FabstirTreasuryInvalidAmount(0);
        FabstirTreasuryStorage storage $ = _s();
        uint256 free = $.free[token];
        if (amount > free) revert FabstirTreasuryInsufficientFreeBalance(token, free, amount);
        // Cannot underflow: checked just above.
        unchecked {
            $.free[token] = free - amount;
        }
        emit Released(token, to, amount);
        if (token == address(0)) {
            (bool ok,) = to.call{value: amount}("");
            if (!ok) revert FabstirTreasuryNativeTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    // ---------------------------------------------------------------- governance

    /// @notice Sets the share of arrivals put in the buyback reserve (at most MAX_BUYBACK_BPS);
    /// it applies from the next sync on.
    function setBuybackShare(uint16 bps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setBuybackShare(_s(), bps);
    }

    /// @notice Sets how far below the router's quote a buyback's `minFabOut` may be
    /// (1 to MAX_SLIPPAGE_BPS basis points).
    function setMaxSlippage(uint16 bps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMaxSlippage(_s(), bps);
    }

    /// @notice Sets what buybacks do with the FAB they buy: 0 burns it, 1 pays it to the stakers
    /// pool (which must be set).
    function setBuybackDestination(uint8 destination) external onlyRole(DEFAULT_ADMIN_ROLE) {
        FabstirTreasuryStorage storage $ = _s();
        if (
            destination > uint8(BuybackDestination.StakersPool)
                || (destination == uint8(BuybackDestination.StakersPool) && $.stakersPool == address(0))
        ) revert FabstirTreasuryInvalidDestination(destination);
        Config storage c = $.config;
        emit BuybackDestinationUpdated(c.destination, BuybackDestination(destination));
        c.destination = BuybackDestination(destination);
    }

    /// @notice Sets the route `token` is swapped along: it starts with `token` (the router's WETH
    /// for ETH, `token` = address(0)), ends with FAB, and has 2 to 4 entries, none of them zero.
    function setSwapPath(address token, address[] calldata path) external onlyRole(DEFAULT_ADMIN_ROLE) {
        FabstirTreasuryStorage storage $ = _s();
        address fabToken = $.fab;
        uint256 length = path.length;
        address first = token == address(0) ? $.config.router.WETH() : token;
        bool valid = token != fabToken && length >= MIN_PATH_LENGTH && length <= MAX_PATH_LENGTH
            && path[0] == first && path[length - 1] == fabToken;
        for (uint256 i = 1; valid && i < length; ++i) {
            valid = path[i] != address(0) && path[i] != path[i - 1];
        }
        if (!valid) revert FabstirTreasuryInvalidSwapPath(token, path);
        $.swapPaths[token] = path;
        emit SwapPathUpdated(token, path);
    }

    /// @notice Sets the Uniswap V2 router. If its WETH differs from the current ETH path's first
    /// token, the ETH path is reset to [WETH, FAB].
    function setRouter(address router_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (router_ == address(0)) revert FabstirTreasuryZeroAddress();
        FabstirTreasuryStorage storage $ = _s();
        Config storage c = $.config;
        emit RouterUpdated(address(c.router), router_);
        c.router = IBuybackRouter(router_);
        address weth = IBuybackRouter(router_).WETH();
        address[] storage ethPath = $.swapPaths[address(0)];
        if (ethPath.length == 0 || ethPath[0] != weth) _setEthPath($, weth, $.fab);
    }

    /// @notice Sets the stakers pool (address(0): none, only while buybacks burn).
    function setStakersPool(address pool) external onlyRole(DEFAULT_ADMIN_ROLE) {
        FabstirTreasuryStorage storage $ = _s();
        if (pool == address(0) && $.config.destination == BuybackDestination.StakersPool) {
            revert FabstirTreasuryStakersPoolInUse();
        }
        emit StakersPoolUpdated($.stakersPool, pool);
        $.stakersPool = pool;
    }

    /// @notice Stops buybacks and releases (emergency only): the guardian's power.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes buybacks and releases: governance only (the guardian cannot unpause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IFabstirTreasury
    function buybackReserve(address token) external view returns (uint256) {
        return _s().reserves[token];
    }

    /// @inheritdoc IFabstirTreasury
    function freeBalance(address token) external view returns (uint256) {
        return _s().free[token];
    }

    /// @inheritdoc IFabstirTreasury
    function buybackShare() external view returns (uint16) {
        return _s().config.buybackBps;
    }

    /// @inheritdoc IFabstirTreasury
    function maxSlippageBps() external view returns (uint16) {
        return _s().config.maxSlippageBps;
    }

    /// @inheritdoc IFabstirTreasury
    function buybackDestination() external view returns (BuybackDestination) {
        return _s().config.destination;
    }

    /// @inheritdoc IFabstirTreasury
    function swapPath(address token) external view returns (address[] memory) {
        return _s().swapPaths[token];
    }

    /// @inheritdoc IFabstirTreasury
    function router() external view returns (address) {
        return address(_s().config.router);
    }

    /// @inheritdoc IFabstirTreasury
    function fab() external view returns (address) {
        return _s().fab;
    }

    /// @inheritdoc IFabstirTreasury
    function escrow() external view returns (address) {
        return address(_s().escrow);
    }

    /// @inheritdoc IFabstirTreasury
    function stakersPool() external view returns (address) {
        return _s().stakersPool;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Swaps `amountIn` of `token` into FAB along its governed path, after checking the
    /// caller's `minFabOut` against the router's quote less the slippage bound; returns the FAB
    /// that arrived.
    function _swap(
        FabstirTreasuryStorage storage $,
        Config memory c,
        address token,
        address fabToken,
        uint256 amountIn,
        uint256 minFabOut,
        uint256 deadline
    ) private returns (uint256) {
        address[] memory path = $.swapPaths[token];
        if (path.length == 0) revert FabstirTreasuryNoSwapPath(token);
        uint256[] memory amounts = c.router.getAmountsOut(amountIn, path);
        uint256 quote = amounts[amounts.length - 1];
        uint256 floor = quote * (BPS - c.maxSlippageBps) / BPS;
        if (minFabOut < floor) revert FabstirTreasurySlippageTooLoose(minFabOut, floor, quote);
        uint256 before = IERC20(fabToken).balanceOf(address(this));
        if (token == address(0)) {
            c.router.swapExactETHForTokens{value: amountIn}(minFabOut, path, address(this), deadline);
        } else {
            IERC20(token).forceApprove(address(c.router), amountIn);
            c.router.swapExactTokensForTokens(amountIn, minFabOut, path, address(this), deadline);
        }
        return IERC20(fabToken).balanceOf(address(this)) - before;
    }

    function _setBuybackShare(FabstirTreasuryStorage storage $, uint16 bps) private {
        if (bps > MAX_BUYBACK_BPS) revert FabstirTreasuryInvalidBuybackShare(bps);
        Config storage c = $.config;
        emit BuybackShareUpdated(c.buybackBps, bps);
        c.buybackBps = bps;
    }

    function _setMaxSlippage(FabstirTreasuryStorage storage $, uint16 bps) private {
        if (bps == 0 || bps > MAX_SLIPPAGE_BPS) revert FabstirTreasuryInvalidSlippage(bps);
        Config storage c = $.config;
        emit MaxSlippageUpdated(c.maxSlippageBps, bps);
        c.maxSlippageBps = bps;
    }

    function _setEthPath(FabstirTreasuryStorage storage $, address weth, address fabToken) private {
        address[] memory path = new address[](2);
        path[0] = weth;
        path[1] = fabToken;
        $.swapPaths[address(0)] = path;
        emit SwapPathUpdated(address(0), path);
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
