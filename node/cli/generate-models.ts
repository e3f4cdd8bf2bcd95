/**
 * `npm run models:generate -- [name ...] [--dir DIR] [--force]`: writes the generated GGUF
 * models (default: the tiny chat and embedding models) and prints each file's size and
 * sha256. Existing files are kept unless --force. Names: see MODEL_SHAPES.
 */
import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { generateModel, MODEL_SHAPES, type ModelName } from "../models/generate.ts";
import { DEFAULT_MODELS_DIR } from "../models/paths.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { dir: { type: "string" }, force: { type: "boolean" }, json: { type: "boolean" } },
});
const names = positionals.length > 0 ? positionals : ["fabstir-tiny-chat", "fabstir-tiny-embed"];
const unknown = names.filter((n) => !(n in MODEL_SHAPES));
if (unknown.length > 0) {
  console.error(
    `unknown model ${unknown.join(", ")}; choose from: ${Object.keys(MODEL_SHAPES).join(", ")}`,
  );
  process.exit(2);
}
const dir = path.resolve(values.dir ?? DEFAULT_MODELS_DIR);
await mkdir(dir, { recursive: true });
const results = [];
for (const name of names as ModelName[]) {
  const file = path.join(dir, `${name}.gguf`);
  const exists = await stat(file).then(
    () => true,
    () => false,
  );
  if (exists && !values.force) {
    results.push({ name, file, skipped: true });
    continue;
  }
  const started = Date.now();
  const { bytes, sha256 } = await generateModel(name, file);
  results.push({ name, file, bytes, sha256, seconds: (Date.now() - started) / 1000 });
}
if (values.json) console.log(JSON.stringify(results, null, 2));
else
  for (const r of results)
    console.log(
      "skipped" in r
        ? `${r.name}: exists (${r.file}); --force to regenerate`
        : `${r.name}: ${r.file} ${(r.bytes / 1e6).toFixed(1)} MB sha256 ${r.sha256} (${r.seconds} s)`,
    );
