/**
 * The arbiter's public face, for programs that run one (local/, the `npm start` marketplace,
 * and arbiter/cli.ts): the service that decides output challenges and job disputes by
 * re-executing their evidence with other hosts. Everything else in arbiter/ is internal.
 */
export {
  type Arbiter,
  type ArbiterCase,
  type ArbiterOptions,
  createArbiter,
  discoveryVerifiers,
} from "./service.ts";
