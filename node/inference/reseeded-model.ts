/**
 * For tests and benchmarks of the spot-check: a stand-in for "a cheaper model" that shares
 * the listed model's tokenizer. No other model can be downloaded here, so it is a copy of a
 * generated F32 model with the signs of its random weights flipped by a seeded pattern: same
 * shape, same vocabulary, same weight distribution, different weights (as if generated with
 * another seed).
 */
import { readFile, writeFile } from "node:fs/promises";
import { readGgufHeader } from "../models/gguf/reader.ts";

/** Writes the reseeded copy of the F32 GGUF model `from` to `to`. */
export async function reseededCopy(from: string, to: string, seed: number): Promise<void> {
  const header = await readGgufHeader(from);
  const bytes = await readFile(from);
  let state = seed >>> 0;
  const bit = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) & 1;
  };
  for (const t of header.tensors) {
    if (t.type !== 0 || t.name.includes("norm")) continue; // F32 weights; norms are constant
    const start = header.dataOffset + Number(t.offset);
    const count = Number(t.dims.reduce((a, b) => a * b, 1n));
    for (let i = 0; i < count; i++)
      if (bit()) bytes.writeFloatLE(-bytes.readFloatLE(start + i * 4), start + i * 4);
  }
  await writeFile(to, bytes);
}
