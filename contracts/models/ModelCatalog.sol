// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {IModelCatalog} from "./IModelCatalog.sol";

/// @title ModelCatalog
/// @notice The GGUF model files the marketplace lists, each under its bytes32 chain model id
/// (a UTF-8 name right-padded with zeros, or the file's sha256 for `sha256:<hex>` ids) with the
/// file's sha256, name, architecture, quantization, context length, licence, publisher and a
/// suggested price range. Anyone may propose a model (as its publisher); the LISTER_ROLE (the
/// timelock in a governed deployment, so listing is a governance action) lists models, approves
/// proposals (possibly correcting them) and delists. Where the NodeRegistry has this catalog set,
/// hosts may only start offering listed models.
/// @dev Every state change emits the whole entry, so an indexer never reads the chain.
contract ModelCatalog is Initializable, AccessControlUpgradeable, PausableUpgradeable, UUPSUpgradeable, IModelCatalog {
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant UPGRADER_ROLE = keccak256("UPGRADER_ROLE");
    bytes32 public constant LISTER_ROLE = keccak256("LISTER_ROLE");

    /// @notice The longest name, in bytes.
    uint256 public constant MAX_NAME_BYTES = 64;
    /// @notice The longest architecture, quantization or licence, in bytes.
    uint256 public constant MAX_TAG_BYTES = 32;

    /// @custom:storage-location erc7201:fabstir.storage.ModelCatalog
    struct ModelCatalogStorage {
        mapping(bytes32 modelId => Model) models;
    }

    // keccak256(abi.encode(uint256(keccak256("fabstir.storage.ModelCatalog")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_LOCATION = 0x21ceaf4267138b3ee0f1bc4ecfc438c73805e4cf4cf26fb336208d9c3e0fe100;

    function _s() private pure returns (ModelCatalogStorage storage $) {
        assembly {
            $.slot := STORAGE_LOCATION
        }
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy.
    /// @param admin receives DEFAULT_ADMIN_ROLE, PAUSER_ROLE, UPGRADER_ROLE and LISTER_ROLE.
    function initialize(address admin) external initializer {
        if (admin == address(0)) revert ModelCatalogZeroAddress();
        __AccessControl_init();
        __Pausable_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(UPGRADER_ROLE, admin);
        _grantRole(LISTER_ROLE, admin);
    }

    // ---------------------------------------------------------------- publishers

    /// @notice Proposes `modelId` for listing, with the caller as its publisher. A model that is
    /// not listed may be proposed: a new or delisted one by anyone, a proposed one again (revised)
    /// only by its publisher.
    /// @param modelId the chain model id; never 0.
    /// @param info the model's declared info (validated as ModelInfo documents).
    function propose(bytes32 modelId, ModelInfo calldata info) external whenNotPaused {
        if (modelId == bytes32(0)) revert ModelCatalogInvalidModelId();
        Model storage model = _s().models[modelId];
        ModelStatus status = model.status;
        if (status == ModelStatus.Listed) revert ModelCatalogAlreadyListed(modelId);
        if (status == ModelStatus.Proposed && model.publisher != msg.sender) {
            revert ModelCatalogAlreadyProposed(modelId, model.publisher);
        }
        _validate(info);
        model.info = info;
        model.publisher = msg.sender;
        model.status = ModelStatus.Proposed;
        emit ModelProposed(modelId, msg.sender, info);
    }

    // ---------------------------------------------------------------- governance

    /// @notice Lists `modelId` with `info`: directly, or approving a proposal (with `info`
    /// possibly corrected), or listing a delisted model again. The publisher stays whoever
    /// proposed or published it before; a model never proposed is published by the caller.
    /// @param modelId the chain model id; never 0.
    /// @param info the model's info as listed (validated as ModelInfo documents).
    function list(bytes32 modelId, ModelInfo calldata info) external whenNotPaused onlyRole(LISTER_ROLE) {
        if (modelId == bytes32(0)) revert ModelCatalogInvalidModelId();
        Model storage model = _s().models[modelId];
        if (model.status == ModelStatus.Listed) revert ModelCatalogAlreadyListed(modelId);
        _validate(info);
        address publisher = model.publisher;
        if (publisher == address(0)) {
            publisher = msg.sender;
            model.publisher = publisher;
        }
        model.info = info;
        model.status = ModelStatus.Listed;
        emit ModelListed(modelId, publisher, info);
    }

    /// @notice Delists `modelId`: hosts may no longer start offering it where the registry checks
    /// the catalog (offers made before stay until their hosts withdraw them). Allowed while paused.
    function delist(bytes32 modelId) external onlyRole(LISTER_ROLE) {
        Model storage model = _s().models[modelId];
        ModelStatus status = model.status;
        if (status != ModelStatus.Listed) revert ModelCatalogNotListed(modelId, status);
        model.status = ModelStatus.Delisted;
        emit ModelDelisted(modelId);
    }

    /// @notice Stops proposing and listing (delisting goes on): the guardian's emergency power.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes normal operation: governance only (the guardian cannot unpause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IModelCatalog
    function isListed(bytes32 modelId) external view returns (bool) {
        return _s().models[modelId].status == ModelStatus.Listed;
    }

    /// @notice The catalog entry of `modelId` (all zero, status None, for a model never proposed
    /// or listed).
    function modelOf(bytes32 modelId) external view returns (Model memory) {
        return _s().models[modelId];
    }

    /// @notice The sha256 of `modelId`'s GGUF file as last proposed or listed (check `isListed`
    /// for whether governance approved it); reverts for a model the catalog never heard of.
    function sha256Of(bytes32 modelId) external view returns (bytes32) {
        Model storage model = _s().models[modelId];
        if (model.status == ModelStatus.None) revert ModelCatalogUnknownModel(modelId);
        return model.info.fileSha256;
    }

    // ---------------------------------------------------------------- internals

    function _validate(ModelInfo calldata info) private pure {
        if (info.fileSha256 == bytes32(0)) revert ModelCatalogInvalidField("fileSha256");
        if (info.contextLength == 0) revert ModelCatalogInvalidField("contextLength");
        if (info.minPricePerToken > info.maxPricePerToken) {
            revert ModelCatalogInvalidPriceRange(info.minPricePerToken, info.maxPricePerToken);
        }
        _validateString("name", info.name, MAX_NAME_BYTES);
        _validateString("architecture", info.architecture, MAX_TAG_BYTES);
        _validateString("quantization", info.quantization, MAX_TAG_BYTES);
        _validateString("licence", info.licence, MAX_TAG_BYTES);
    }

    function _validateString(string memory field, string calldata value, uint256 max) private pure {
        uint256 length = bytes(value).length;
        if (length == 0) revert ModelCatalogInvalidField(field);
        if (length > max) revert ModelCatalogTooLong(field, length, max);
    }

    function _authorizeUpgrade(address) internal override onlyRole(UPGRADER_ROLE) {}
}
