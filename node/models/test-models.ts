/** For tests: the tiny generated chat and embedding models in a temp dir, written once per process. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { generateModel } from "./generate.ts";

export interface TestModels {
  dir: string;
  chat: string;
  chatSha256: string;
  embed: string;
  embedSha256: string;
  remove: () => Promise<void>;
}

export async function tinyTestModels(): Promise<TestModels> {
  const dir = await mkdtemp(path.join(tmpdir(), "fabstir-test-models-"));
  const chat = path.join(dir, "fabstir-tiny-chat.gguf");
  const embed = path.join(dir, "fabstir-tiny-embed.gguf");
  const c = await generateModel("fabstir-tiny-chat", chat);
  const e = await generateModel("fabstir-tiny-embed", embed);
  return {
    dir,
    chat,
    chatSha256: c.sha256,
    embed,
    embedSha256: e.sha256,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
