// Ponder regenerates ponder-env.d.ts to type against <root>/ponder.config.ts; the real
// configuration lives at the repository root (run with --config ../ponder.config.ts).
export { default } from "../ponder.config.ts";
