import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { deploySystem } from "../helpers/system.ts";

describe("smoke", async () => {
  const connection = await network.create();
  it("deploys", async () => {
    const sys = await deploySystem(connection);
    assert.equal(await sys.marketplace.read.nextJobId(), 1n);
  });
});
