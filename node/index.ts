/**
 * The host node's public face, for programs that run nodes (local/, the `npm start`
 * marketplace): start one from a config, and make the demo models. Everything else in node/
 * is internal to it; shared rules of the wire live in protocol/.
 */
export { parseNodeConfig } from "./config.ts";
export { type HostNode, startHostNode } from "./host.ts";
export { generateModel } from "./models/generate.ts";
export { DEFAULT_MODELS_DIR } from "./models/paths.ts";
