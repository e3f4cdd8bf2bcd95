// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IModelCatalog
/// @notice Types, events, errors and the registry-facing API of the ModelCatalog: the GGUF
/// model files the marketplace lists, by their bytes32 chain model id.
interface IModelCatalog {
    /// @notice Where a model stands: unknown, proposed by a publisher, listed by governance, or
    /// delisted by governance.
    enum ModelStatus {
        None,
        Proposed,
        Listed,
        Delisted
    }

    /// @notice What a publisher declares about one GGUF model file.
    /// @param fileSha256 the sha256 of the GGUF file; never 0.
    /// @param name a readable name (1 to MAX_NAME_BYTES bytes, UTF-8).
    /// @param architecture the GGUF `general.architecture` (e.g. "llama"; 1 to MAX_TAG_BYTES bytes).
    /// @param quantization the weights' type (e.g. "Q4_K_M", "F32"; 1 to MAX_TAG_BYTES bytes).
    /// @param contextLength the context length (tokens) the model was trained for; never 0.
    /// @param licence the licence, as an SPDX id where one exists (1 to MAX_TAG_BYTES bytes).
    /// @param minPricePerToken the publisher's suggested lowest price per output token, in wei of
    /// ETH (advisory: hosts set their own prices).
    /// @param maxPricePerToken the suggested highest price per output token; at least the lowest.
    struct ModelInfo {
        bytes32 fileSha256;
        string name;
        string architecture;
        string quantization;
        uint32 contextLength;
        string licence;
        uint64 minPricePerToken;
        uint64 maxPricePerToken;
    }

    /// @notice A catalog entry: the declared info, who published it and its status.
    struct Model {
        ModelInfo info;
        address publisher;
        ModelStatus status;
    }

    /// @notice `publisher` proposed `modelId` for listing with `info`.
    event ModelProposed(bytes32 indexed modelId, address indexed publisher, ModelInfo info);
    /// @notice `modelId` was listed (by governance) with `info`; hosts may offer it.
    event ModelListed(bytes32 indexed modelId, address indexed publisher, ModelInfo info);
    /// @notice `modelId` was delisted; hosts may no longer start offering it (existing offers stay
    /// until withdrawn).
    event ModelDelisted(bytes32 indexed modelId);

    error ModelCatalogZeroAddress();
    /// @notice A model id of 0 was given.
    error ModelCatalogInvalidModelId();
    /// @notice `modelId` is listed already.
    error ModelCatalogAlreadyListed(bytes32 modelId);
    /// @notice `modelId` is proposed by another `publisher`; only it (or governance) may change it.
    error ModelCatalogAlreadyProposed(bytes32 modelId, address publisher);
    /// @notice `modelId` is not listed (it is in `status`).
    error ModelCatalogNotListed(bytes32 modelId, ModelStatus status);
    /// @notice The catalog has never heard of `modelId`.
    error ModelCatalogUnknownModel(bytes32 modelId);
    /// @notice The field named `field` is empty or zero.
    error ModelCatalogInvalidField(string field);
    /// @notice The field named `field` is `length` bytes long, more than `max`.
    error ModelCatalogTooLong(string field, uint256 length, uint256 max);
    /// @notice The suggested price range is inverted.
    error ModelCatalogInvalidPriceRange(uint64 minPricePerToken, uint64 maxPricePerToken);

    /// @notice Whether `modelId` is listed (hosts may offer it where the registry checks the catalog).
    function isListed(bytes32 modelId) external view returns (bool);
}
