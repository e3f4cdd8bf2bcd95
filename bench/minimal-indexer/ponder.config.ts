/** The baseline app of bench/indexer.ts indexes exactly what the real indexer does: same chain, contracts, database. */
export { default } from "../../ponder.config.ts";
