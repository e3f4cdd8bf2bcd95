/**
 * The storage-layout checker (scripts/storage-layout.ts): fixture contracts of
 * test/fixtures/storage-layout/ (version 1 in Vault.sol, one change per variant) checked
 * against version 1, and the project's committed snapshots checked against its sources.
 * Each fixture is compiled once (the checker caches compiler output in memory).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ContractLayout,
  checkUpgrade,
  checkUpgrades,
  compareLayouts,
  extractLayouts,
  type LayoutIssue,
  main,
  SNAPSHOT_DIR,
  StorageLayoutCompileError,
  StorageLayoutError,
  StorageLayoutSnapshotMissingError,
  writeSnapshot,
} from "../../scripts/storage-layout.ts";

const root = path.resolve(import.meta.dirname, "../..");
const FIXTURES = "test/fixtures/storage-layout";
const VAULT = "erc7201:fixture.storage.Vault";

/** The layout of the fixture `file` (each declares a contract Vault). */
function vault(file: string): ContractLayout {
  const layout = extractLayouts([{ name: "Vault", source: `${FIXTURES}/${file}` }]).get("Vault");
  if (!layout || layout instanceof StorageLayoutError) throw layout ?? new Error(file);
  return layout;
}

/** What a comparison found, as `kind path` lines (the tests assert kinds, not messages). */
const kinds = (issues: readonly LayoutIssue[]) => issues.map((i) => `${i.kind} ${i.path}`);

describe("storage-layout checker", () => {
  let v1: ContractLayout;
  let dir: string;

  before(() => {
    v1 = vault("Vault.sol");
    dir = mkdtempSync(path.join(tmpdir(), "fabstir-storage-layout-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("records the namespaces, in order, with their ERC-7201 slots, and the ordinary storage", () => {
    assert.deepEqual(Object.keys(v1.namespaces), ["erc7201:fixture.storage.VaultBase", VAULT]);
    const ns = v1.namespaces[VAULT];
    assert.equal(ns?.struct, "Vault.VaultStorage");
    assert.equal(ns?.slot, "0xd8ed81b9bd71049e7f9a03b7ecdaa60a314d16d0d1fe77f622a86c25512e3400");
    const reserved = ns?.members.find((m) => m.label === "reserved");
    assert.deepEqual(reserved, { label: "reserved", slot: 1, offset: 16, type: "uint128" });
    assert.deepEqual(v1.types["enum Vault.State"]?.enumValues, ["None", "Open", "Closed"]);
    assert.equal(v1.types["Vault.Price"]?.underlying, "uint128");
    assert.deepEqual(
      v1.storage.map((m) => m.label),
      ["legacy"],
    );
  });

  it("accepts members appended (also in a slot's free bytes), an enum value and a namespace", () => {
    const result = compareLayouts(v1, vault("Appended.sol"));
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(result.addedNamespaces, ["erc7201:fixture.storage.VaultExtra"]);
  });

  it("refuses a member inserted in the middle, naming it and what it moved", () => {
    const { errors } = compareLayouts(v1, vault("Inserted.sol"));
    assert.ok(kinds(errors).includes("member-inserted guardian"), kinds(errors).join("\n"));
    assert.ok(kinds(errors).includes("member-moved total"));
  });

  it("refuses a member inserted in an inline struct", () => {
    const { errors } = compareLayouts(v1, vault("NestedInserted.sol"));
    assert.ok(kinds(errors).includes("member-inserted config.capBps"), kinds(errors).join("\n"));
  });

  it("refuses a type changed from uint128 to uint256", () => {
    const { errors } = compareLayouts(v1, vault("TypeChanged.sol"));
    assert.ok(kinds(errors).includes("type-changed total"), kinds(errors).join("\n"));
  });

  it("refuses a removed member, in a namespace and in ordinary storage", () => {
    const { errors } = compareLayouts(v1, vault("MemberRemoved.sol"));
    assert.deepEqual(
      errors.map((e) => [e.kind, e.area, e.path]),
      [
        ["member-removed", VAULT, "reserved"],
        ["member-removed", "storage", "legacy"],
      ],
    );
  });

  it("refuses a removed namespace", () => {
    const { errors } = compareLayouts(v1, vault("NamespaceRemoved.sol"));
    assert.deepEqual(
      errors.map((e) => [e.kind, e.area]),
      [["namespace-removed", "erc7201:fixture.storage.VaultBase"]],
    );
  });

  it("only warns about a renamed member and a value type spelled differently", () => {
    const { errors, warnings } = compareLayouts(v1, vault("Renamed.sol"));
    assert.deepEqual(errors, []);
    assert.deepEqual(kinds(warnings), ["member-renamed reserved", "type-renamed price"]);
  });

  it("refuses a mapping whose value type changed", () => {
    const { errors } = compareLayouts(v1, vault("MappingValueChanged.sol"));
    assert.deepEqual(kinds(errors), ["type-changed balances[address]"]);
  });

  it("refuses a struct grown where it is an array element, not where it is a mapping value", () => {
    const { errors } = compareLayouts(v1, vault("ElementGrown.sol"));
    assert.deepEqual(kinds(errors), ["struct-resized history[]"]);
  });

  it("refuses reordered enum values", () => {
    const { errors } = compareLayouts(v1, vault("EnumReordered.sol"));
    assert.deepEqual(kinds(errors), ["type-changed state"]);
  });

  it("checkUpgrade compares a source with a snapshot file, and throws when it cannot check", () => {
    const snapshot = writeSnapshot(v1, { snapshotDir: dir });
    const ok = checkUpgrade("Vault", { snapshot, source: `${FIXTURES}/Appended.sol` });
    assert.equal(ok.status, "compatible");
    const bad = checkUpgrade("Vault", { snapshotDir: dir, source: `${FIXTURES}/TypeChanged.sol` });
    assert.equal(bad.status, "incompatible");
    assert.ok(bad.errors.length > 0);
    assert.throws(
      () => checkUpgrade("Vault", { snapshot, source: `${FIXTURES}/Broken.sol` }),
      StorageLayoutCompileError,
    );
    assert.throws(
      () => checkUpgrade("Vault", { snapshotDir: path.join(dir, "none") }),
      StorageLayoutSnapshotMissingError,
    );
  });

  it("the CLI exits 1 with a report on an incompatible layout", () => {
    const snapshot = writeSnapshot(v1, { snapshotDir: dir });
    const lines: string[] = [];
    const source = `${FIXTURES}/Inserted.sol:Vault`;
    const code = main(["check", "--old", snapshot, "--source", source], (l) => lines.push(l));
    assert.equal(code, 1, lines.join("\n"));
    assert.match(lines.join("\n"), /Vault\s+INCOMPATIBLE/);
    assert.match(lines.join("\n"), /guardian was inserted/);
    assert.equal(
      main(["check", "--old", snapshot], () => {}),
      2,
      "a usage error",
    );
  });

  it("every committed snapshot matches the current sources (those that compile)", (t) => {
    const names = readdirSync(path.join(root, SNAPSHOT_DIR))
      .filter((f) => f.endsWith(".json"))
      .map((f) => ({ name: f.slice(0, -".json".length) }));
    assert.ok(names.length > 0, "no snapshots in storage-layouts/");
    for (const [name, outcome] of checkUpgrades(names)) {
      if (outcome instanceof StorageLayoutError) {
        if (!(outcome instanceof StorageLayoutCompileError)) throw outcome;
        t.diagnostic(`${name} skipped: ${outcome.message}`);
        continue;
      }
      assert.deepEqual(kinds(outcome.errors), [], `${name} is incompatible with its snapshot`);
    }
  });
});
