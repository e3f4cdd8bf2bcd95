// Ponder serves the Hono app at <root>/src/api/index.ts; the app itself lives in api/.
export { default } from "../../../api/index.ts";
