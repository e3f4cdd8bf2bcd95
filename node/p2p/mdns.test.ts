/**
 * mDNS discovery: two nodes with `mdns: true` find and dial each other. Multicast must never
 * reach the machine's real interfaces, so the test re-runs itself inside a private network
 * namespace (`unshare -n`, loopback only, multicast routed to it) and is skipped where
 * namespaces are not permitted.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { networkInterfaces } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "vitest";
import { localNode, waitFor } from "../../fixtures/p2p.ts";

const run = promisify(execFile);
const IN_NAMESPACE = "FABSTIR_P2P_TEST_NETNS";
const ROOT = path.resolve(import.meta.dirname, "../..");

/** True when the only network interface is loopback (a private namespace). */
const loopbackOnly = () =>
  Object.values(networkInterfaces())
    .flat()
    .every((i) => i?.internal);

describe("p2p mDNS", () => {
  it("two LAN nodes find and dial each other by mDNS (in a private network namespace)", async (ctx) => {
    if (process.env[IN_NAMESPACE] !== "1") {
      const permitted = await run("unshare", ["-n", "true"]).then(
        () => true,
        () => false,
      );
      if (!permitted) return ctx.skip("unshare -n is not permitted here");
      const setup =
        "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo";
      const vitest = path.join(ROOT, "node_modules", "vitest", "vitest.mjs");
      const test = `"${process.execPath}" "${vitest}" run "${fileURLToPath(import.meta.url)}"`;
      const child = await run("unshare", ["-n", "sh", "-c", `${setup} && exec ${test}`], {
        cwd: ROOT,
        // Plain text on stdout, whatever colours this run uses.
        env: { ...process.env, FORCE_COLOR: undefined, NO_COLOR: "1", [IN_NAMESPACE]: "1" },
        timeout: 30_000,
      }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
        assert.fail(`the namespaced run failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
      });
      assert.match(child.stdout, /Tests\s+1 passed \(1\)/);
      return;
    }
    assert.ok(loopbackOnly(), "refusing to multicast outside a private network namespace");
    const [a, b] = await Promise.all([localNode({ mdns: true }), localNode({ mdns: true })]);
    try {
      await waitFor(
        () =>
          a.libp2p.getConnections(b.peerId).length > 0 ||
          b.libp2p.getConnections(a.peerId).length > 0,
        "an mDNS-discovered connection",
        15_000,
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
