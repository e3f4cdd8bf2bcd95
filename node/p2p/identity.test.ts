/** The node identity file: the same peer id across restarts, mode 0600, a corrupt file refused. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { afterAll, beforeAll, describe, it } from "vitest";
import { localNode } from "../../fixtures/p2p.ts";
import { IdentityFileError } from "./errors.ts";
import { loadOrCreateIdentity } from "./identity.ts";

describe("p2p identity", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-p2p-identity-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates an Ed25519 key in a new directory with mode 0600 and reloads the same peer id", async () => {
    const file = path.join(dir, "nested", "keys", "identity.key");
    const key = await loadOrCreateIdentity(file);
    assert.equal(key.type, "Ed25519");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const bytes = await readFile(file);

    // A node started on the reloaded key has the same peer id, and the file is unchanged.
    const reloaded = await loadOrCreateIdentity(file);
    const node = await localNode({ privateKey: reloaded });
    try {
      assert.equal(node.peerId.toString(), peerIdFromPrivateKey(key).toString());
    } finally {
      await node.stop();
    }
    assert.deepEqual(await readFile(file), bytes);
  });

  it("refuses a corrupt or empty file with a clear error and leaves it in place", async () => {
    const file = path.join(dir, "corrupt.key");
    await writeFile(file, "not a key at all", { mode: 0o600 });
    await assert.rejects(loadOrCreateIdentity(file), (e: unknown) => {
      assert.ok(e instanceof IdentityFileError);
      assert.equal(e.code, "identity_invalid");
      assert.match(e.message, /corrupt\.key: not a libp2p private key.*refusing to replace it/);
      return true;
    });
    assert.equal(await readFile(file, "utf8"), "not a key at all");

    const empty = path.join(dir, "empty.key");
    await writeFile(empty, "");
    await assert.rejects(loadOrCreateIdentity(empty), IdentityFileError);
  });
});
