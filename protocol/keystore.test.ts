/** The host key: environment, V3 keystores (round trip, wrong password, corrupt file). */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, it } from "vitest";
import { KeyError, loadHostAccount, writeKeystore } from "./keystore.ts";

describe("host keys", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "fabstir-keys-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("reads the key from the environment, and refuses a malformed one", async () => {
    const key = generatePrivateKey();
    const account = await loadHostAccount({}, { FABSTIR_HOST_PRIVATE_KEY: key });
    assert.equal(account.address, privateKeyToAccount(key).address);
    await assert.rejects(loadHostAccount({}, { FABSTIR_HOST_PRIVATE_KEY: "0x1234" }), KeyError);
    await assert.rejects(loadHostAccount({}, {}), KeyError);
  });

  it("unlocks a V3 keystore it wrote, and refuses a wrong password or a broken file", async () => {
    const key = generatePrivateKey();
    const file = path.join(dir, "host.json");
    await writeKeystore(file, key, "correct horse", 1 << 12);
    const account = await loadHostAccount(
      { keystore: file },
      { FABSTIR_KEYSTORE_PASSWORD: "correct horse" },
    );
    assert.equal(account.address, privateKeyToAccount(key).address);
    await assert.rejects(
      loadHostAccount({ keystore: file }, { FABSTIR_KEYSTORE_PASSWORD: "wrong" }),
      (e: unknown) => e instanceof KeyError && /password/.test(e.message),
    );
    await assert.rejects(loadHostAccount({ keystore: file }, {}), KeyError);
    const broken = path.join(dir, "broken.json");
    await writeFile(broken, "{not json");
    await assert.rejects(
      loadHostAccount({ keystore: broken }, { FABSTIR_KEYSTORE_PASSWORD: "x" }),
      KeyError,
    );
    await assert.rejects(
      loadHostAccount(
        { keystore: path.join(dir, "missing.json") },
        { FABSTIR_KEYSTORE_PASSWORD: "x" },
      ),
      KeyError,
    );
  });
});
