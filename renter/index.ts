/**
 * The renter's public face, for programs that embed a renter (local/, the `npm start`
 * marketplace): the paid-request client, the OpenAI-compatible gateway, and the file that
 * tells the CLIs where a local marketplace is. Everything else in renter/ is internal to it.
 */
export { createRenter, type Renter } from "./client.ts";
export type { MarketplaceFile } from "./config.ts";
export { createGatewayApp } from "./gateway.ts";
export { createSpotChecker, type SpotChecker } from "./spot-check.ts";
export { createTrustGuard, type TrustGuard, type TrustReport } from "./trust.ts";
