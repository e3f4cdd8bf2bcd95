// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";
import {ERC20PausableUpgradeable} from
    "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC20PausableUpgradeable.sol";
import {ERC20PermitUpgradeable} from
    "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC20PermitUpgradeable.sol";
import {ERC20VotesUpgradeable} from
    "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC20VotesUpgradeable.sol";
import {NoncesUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/NoncesUpgradeable.sol";

/// @title FABToken
/// @notice The Fabstir protocol token: hosts stake it in the NodeRegistry, stakers lock it in the
/// StakersPool, and holders vote with it in the FabstirGovernor. The whole supply is minted once,
/// at initialization; there is no mint function afterwards, and anyone may burn their own FAB
/// (the treasury's buybacks burn what they buy when governance says so).
/// @dev ERC-20 with EIP-2612 permit and ERC-5805 votes on a timestamp clock
/// (block numbers on an L2 are not a stable time base). UUPS upgradeable; all
/// inherited state lives in OpenZeppelin's ERC-7201 namespaces.
///
/// Custody keeps votes with their owner: a contract holding CUSTODIAN_ROLE (the NodeRegistry,
/// the StakersPool) takes FAB with `custodyIn` and gives it back with `custodyOut`; the FAB it
/// holds for an owner keeps counting as the owner's voting units (delegated as the owner
/// delegates), so a host or staker never loses its vote by staking. Voting units are
/// `balance + held for you by custodians - held by you for others`; the total never changes by
/// custody, only by a custodian paying FAB out to someone else (a slash), which moves the votes
/// with the tokens. The guardian (PAUSER_ROLE) may pause; only the admin (governance) unpauses.
contract FABToken is
    Initializable,
    ERC20Upgradeable,
    ERC20PausableUpgradeable,
    ERC20PermitUpgradeable,
    ERC20VotesUpgradeable,
    AccessControlUpgradeable,
    UUPSUpgradeable
{
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    /// @notice Contracts that hold FAB for its owners without taking their votes.
    bytes32 public constant CUSTODIAN_ROLE = keccak256("CUSTODIAN_ROLE");

    /// @custom:storage-location erc7201:fabstir.storage.FABToken
    struct FABTokenStorage {
        /// FAB that custodians hold for each owner (counted in the owner's voting units).
        mapping(address owner => uint256) custodied;
        /// FAB each custodian holds for others (not counted in the custodian's voting units).
        mapping(address custodian => uint256) held;
        /// FAB each custodian holds for each owner: a custodian pays out only what it took.
        mapping(address custodian => mapping(address owner => uint256)) custody;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.FABToken")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0xed88417d93ef1ee91155e87966de93cc1c2ba3269649f4deff839b3c1163f600;

    /// @dev During a custody transfer: whose votes move (from, to); equal means none move.
    address private transient _votesFrom;
    address private transient _votesTo;
    bool private transient _custodyTransfer;

    /// @notice Emitted when a custodian takes FAB for `owner`.
    event CustodyIn(address indexed custodian, address indexed owner, uint256 amount);
    /// @notice Emitted when a custodian pays FAB held for `owner` to `to` (the owner itself, or
    /// someone else on a slash: the votes move with the tokens then).
    event CustodyOut(address indexed custodian, address indexed owner, address indexed to, uint256 amount);

    /// @notice The recipient of the initial supply is the zero address.
    error FABTokenZeroAddress();
    /// @notice A custodian tried to pay out more than it holds for `owner`.
    error FABTokenCustodyExceeded(address custodian, address owner, uint256 held, uint256 requested);
    /// @notice A custodian's plain transfer would spend FAB it holds for others.
    error FABTokenHeldForOthers(address custodian, uint256 balance, uint256 held);

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy: names the token and mints `supply` to `treasury`.
    /// @param admin receives DEFAULT_ADMIN_ROLE, PAUSER_ROLE and UPGRADER_ROLE.
    /// @param treasury receives the whole initial supply.
    /// @param supply the fixed total supply, in wei (18 decimals).
    function initialize(address admin, address treasury, uint256 supply) external initializer {
        if (admin == address(0) || treasury == address(0)) revert FABTokenZeroAddress();
        __ERC20_init("Fabstir", "FAB");
        __ERC20Pausable_init();
        __ERC20Permit_init("Fabstir");
        __ERC20Votes_init();
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _mint(treasury, supply);
    }

    /// @notice Takes `amount` FAB from `owner` (who approved the caller) into the calling
    /// custodian's hands; the owner keeps the votes.
    function custodyIn(address owner, uint256 amount) external onlyRole(CUSTODIAN_ROLE) {
        _spendAllowance(owner, msg.sender, amount);
        FABTokenStorage storage $ = _s();
        $.custodied[owner] += amount;
        $.held[msg.sender] += amount;
        $.custody[msg.sender][owner] += amount;
        emit CustodyIn(msg.sender, owner, amount);
        _custodyMove(owner, msg.sender, owner, owner, amount);
    }

    /// @notice Pays `amount` FAB the caller holds for `owner` to `to`: the owner itself (votes
    /// stay) or another account (a slash: the votes go with the tokens).
    function custodyOut(address owner, address to, uint256 amount) external onlyRole(CUSTODIAN_ROLE) {
        FABTokenStorage storage $ = _s();
        uint256 custody = $.custody[msg.sender][owner];
        if (amount > custody) revert FABTokenCustodyExceeded(msg.sender, owner, custody, amount);
        // Cannot underflow: custody[c][o] <= custodied[o] and <= held[c], by construction.
        unchecked {
            $.custody[msg.sender][owner] = custody - amount;
            $.custodied[owner] -= amount;
            $.held[msg.sender] -= amount;
        }
        emit CustodyOut(msg.sender, owner, to, amount);
        _custodyMove(msg.sender, to, owner, to, amount);
    }

    /// @notice Burns `amount` of the caller's FAB (buybacks burn what they buy this way).
    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
    }

    /// @notice FAB custodians hold for `owner` (counted in its voting units).
    function custodiedOf(address owner) external view returns (uint256) {
        return _s().custodied[owner];
    }

    /// @notice FAB `custodian` holds for others.
    function heldBy(address custodian) external view returns (uint256) {
        return _s().held[custodian];
    }

    /// @notice FAB `custodian` holds for `owner`.
    function custodyOf(address custodian, address owner) external view returns (uint256) {
        return _s().custody[custodian][owner];
    }

    /// @notice Stops all transfers (emergency only): the guardian's power.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes transfers: governance only (the guardian cannot unpause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @notice ERC-6372: votes are checkpointed by timestamp.
    function clock() public view override returns (uint48) {
        return uint48(block.timestamp);
    }

    /// @notice ERC-6372 clock description.
    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    /// @inheritdoc ERC20PermitUpgradeable
    function nonces(address owner)
        public
        view
        override(ERC20PermitUpgradeable, NoncesUpgradeable)
        returns (uint256)
    {
        return super.nonces(owner);
    }

    function _update(address from, address to, uint256 value)
        internal
        override(ERC20Upgradeable, ERC20PausableUpgradeable, ERC20VotesUpgradeable)
    {
        super._update(from, to, value);
        if (!_custodyTransfer && from != address(0)) {
            uint256 held = _s().held[from];
            if (held != 0 && balanceOf(from) < held) revert FABTokenHeldForOthers(from, balanceOf(from), held);
        }
    }

    /// @dev A custody transfer moves votes between the owners it names, not between the holders.
    function _transferVotingUnits(address from, address to, uint256 amount) internal override {
        if (_custodyTransfer) {
            if (_votesFrom != _votesTo) super._transferVotingUnits(_votesFrom, _votesTo, amount);
            return;
        }
        super._transferVotingUnits(from, to, amount);
    }

    /// @dev Voting units: own balance, plus what custodians hold for the account, less what the
    /// account holds for others as a custodian.
    function _getVotingUnits(address account) internal view override returns (uint256) {
        FABTokenStorage storage $ = _s();
        return balanceOf(account) + $.custodied[account] - $.held[account];
    }

    function _custodyMove(address from, address to, address votesFrom, address votesTo, uint256 amount) private {
        _custodyTransfer = true;
        _votesFrom = votesFrom;
        _votesTo = votesTo;
        _transfer(from, to, amount);
        _custodyTransfer = false;
    }

    function _s() private pure returns (FABTokenStorage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
