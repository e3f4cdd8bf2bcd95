/**
 * The host node's public face, for programs that run nodes (local/, the `npm start`
 * marketplace): start one from a config, make the demo models (and the reseeded stand-in a
 * cheating host serves in the trust layer's tests). Everything else in node/
 * is internal to it; shared rules of the wire live in protocol/.
 */
export { parseNodeConfig } from "./config.ts";
export { type HostNode, startHostNode } from "./host.ts";
export { reseededCopy } from "./inference/reseeded-model.ts";
export { generateModel } from "./models/generate.ts";
export { DEFAULT_MODELS_DIR } from "./models/paths.ts";
