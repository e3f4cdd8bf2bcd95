/** Where generated models live by default: models/ at the repository root (git-ignored). */
import path from "node:path";

export const REPO_ROOT = path.resolve(import.meta.dirname, "..", "..");
export const DEFAULT_MODELS_DIR = path.join(REPO_ROOT, "models");
