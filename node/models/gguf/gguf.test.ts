/** The GGUF writer and reader: round trip, encodings, and the errors a bad file gets. */
import assert from "node:assert/strict";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { GgmlType, gguf } from "./format.ts";
import { GgufFormatError, readGgufHeader } from "./reader.ts";
import { encode, toF16, writeGguf } from "./writer.ts";

describe("GGUF writer and reader", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-gguf-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const sample = (file: string) =>
    writeGguf(file, {
      metadata: [
        ["general.architecture", gguf.str("llama")],
        ["n", gguf.u32(7)],
        ["eps", gguf.f32(0.5)],
        ["flag", gguf.bool(true)],
        ["big", gguf.u64(2n ** 40n)],
        ["words", gguf.strings(["a", "▁b", "<0x0A>"])],
        ["scores", gguf.f32s([0, -1.5])],
      ],
      tensors: [
        { name: "a", dims: [32, 2], type: GgmlType.Q8_0, next: (c) => c.fill(0.25) },
        { name: "b", dims: [3], type: GgmlType.F32, next: (c) => c.fill(1) },
        { name: "c", dims: [5], type: GgmlType.F16, next: (c) => c.fill(-2) },
      ],
    });

  it("reads back every metadata value and tensor it wrote, with aligned offsets", async () => {
    const file = path.join(dir, "sample.gguf");
    const { bytes, sha256 } = await sample(file);
    const h = await readGgufHeader(file);
    assert.equal(h.version, 3);
    assert.equal(h.fileSize, bytes);
    assert.equal(h.metadata.get("general.architecture"), "llama");
    assert.equal(h.metadata.get("n"), 7);
    assert.equal(h.metadata.get("eps"), 0.5);
    assert.equal(h.metadata.get("flag"), true);
    assert.equal(h.metadata.get("big"), 2n ** 40n);
    assert.deepEqual(h.metadata.get("words"), ["a", "▁b", "<0x0A>"]);
    assert.deepEqual(h.metadata.get("scores"), [0, -1.5]);
    assert.deepEqual(
      h.tensors.map((t) => [t.name, t.dims, t.type, t.offset]),
      [
        ["a", [32n, 2n], GgmlType.Q8_0, 0n],
        ["b", [3n], GgmlType.F32, 96n],
        ["c", [5n], GgmlType.F16, 128n],
      ],
    );
    assert.equal(h.dataOffset % 32, 0);
    // Deterministic: the same contents give the same bytes.
    assert.equal((await sample(path.join(dir, "again.gguf"))).sha256, sha256);
  });

  it("encodes F16 and Q8_0 exactly", () => {
    assert.equal(toF16(1), 0x3c00);
    assert.equal(toF16(-2), 0xc000);
    assert.equal(toF16(65504), 0x7bff);
    assert.equal(toF16(1e6), 0x7c00);
    assert.equal(toF16(2 ** -24), 0x0001);
    const values = Float32Array.from({ length: 32 }, (_, i) => (i - 16) / 16);
    const q = encode(GgmlType.Q8_0, values);
    assert.equal(q.length, 34);
    assert.equal(q.readUInt16LE(0), toF16(1 / 127));
    assert.equal(q.readInt8(2), -127);
    assert.equal(q.readInt8(2 + 16), 0);
    assert.throws(() => encode(GgmlType.Q8_0, new Float32Array(31)), RangeError);
  });

  it("rejects a missing, foreign, truncated or corrupt file with GgufFormatError", async () => {
    const missing = readGgufHeader(path.join(dir, "nope.gguf"));
    await assert.rejects(
      missing,
      (e) => e instanceof GgufFormatError && /not found/.test(e.reason),
    );
    const foreign = path.join(dir, "foreign.gguf");
    await writeFile(foreign, Buffer.from("PK\x03\x04 not a model at all"));
    await assert.rejects(
      readGgufHeader(foreign),
      (e) => e instanceof GgufFormatError && /magic/.test(e.reason),
    );
    const cut = path.join(dir, "cut.gguf");
    const { bytes } = await sample(cut);
    await truncate(cut, bytes - 40);
    await assert.rejects(
      readGgufHeader(cut),
      (e) => e instanceof GgufFormatError && /truncated/.test(e.reason),
    );
    const headerOnly = path.join(dir, "header-only.gguf");
    await sample(headerOnly);
    await truncate(headerOnly, 60);
    await assert.rejects(readGgufHeader(headerOnly), GgufFormatError);
    const badVersion = path.join(dir, "v9.gguf");
    await sample(badVersion);
    const fh = await import("node:fs/promises").then((f) => f.open(badVersion, "r+"));
    await fh.write(Buffer.from([9, 0, 0, 0]), 0, 4, 4);
    await fh.close();
    await assert.rejects(
      readGgufHeader(badVersion),
      (e) => e instanceof GgufFormatError && /version 9/.test(e.reason),
    );
  });
});
