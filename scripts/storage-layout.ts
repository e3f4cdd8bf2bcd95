/**
 * Storage-layout checker for the upgradeable (UUPS) contracts: an upgrade proposal is only
 * made when the new implementation keeps every slot the proxy already uses.
 *
 *   node scripts/storage-layout.ts snapshot [Name...]   write storage-layouts/<Name>.json
 *   node scripts/storage-layout.ts check [Name...]      compare the sources with the snapshots
 *   node scripts/storage-layout.ts check --old <snapshot.json> --source <path.sol>:<Name>
 *
 * Without names both commands take every upgradeable contract (UPGRADEABLE_CONTRACTS; `check`
 * adds any other contract that has a snapshot) and skip, with a message, one whose source is
 * missing or does not compile yet. `check` exits 1 on an incompatible layout, or when a
 * contract named on the command line cannot be checked. Take a new snapshot once an upgrade
 * is deployed: the snapshot is the layout live proxies have.
 *
 * The contracts keep their state in ERC-7201 namespaced structs, which solc's `storageLayout`
 * does not describe. So the structs marked `@custom:storage-location <formula>:<id>` in the
 * files a contract imports are found (by a scan of the text, checked by the compiler), and the
 * sources are compiled with the `solc` npm package together with a generated harness that
 * declares one state variable of each such struct: the harness's `storageLayout` gives the
 * structs' exact member layouts, and the contract's linearized bases (from its AST) say which
 * namespaces it has. That is one analysis-only compile (no bytecode; the layout depends on
 * neither the optimizer nor viaIR). The ordinary (non-namespaced) layout is checked too, by
 * the same rules; `transient` variables are not storage.
 *
 * Rules, per namespace: it must still exist; every old member keeps its slot, offset and type
 * (a new name at the same place and type is only a warning); new members are appended after
 * the last old one (packing into the free bytes of the last slot is fine); inline structs
 * follow the same rules, and a struct stored as an array element keeps its size; a mapping
 * keeps its key type and a compatible value type; an enum only gains values at its end.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";
import { encodeAbiParameters, type Hex, hexToBigInt, keccak256, stringToHex, toHex } from "viem";
import { z } from "zod";

const ROOT = path.resolve(import.meta.dirname, "..");
/** Where the snapshots live, relative to the project root. */
export const SNAPSHOT_DIR = "storage-layouts";
const REMAPPINGS = ["forge-std/=node_modules/@layerzerolabs/toolbox-foundry/lib/forge-std/"];

/** Every upgradeable contract of the project, by name and source file. */
export const UPGRADEABLE_CONTRACTS: Readonly<Record<string, string>> = {
  FABToken: "contracts/token/FABToken.sol",
  PaymentEscrow: "contracts/escrow/PaymentEscrow.sol",
  NodeRegistry: "contracts/registry/NodeRegistry.sol",
  ModelCatalog: "contracts/models/ModelCatalog.sol",
  JobMarketplace: "contracts/marketplace/JobMarketplace.sol",
  SessionManager: "contracts/sessions/SessionManager.sol",
  ReputationSystem: "contracts/reputation/ReputationSystem.sol",
  ProofSystem: "contracts/proofs/ProofSystem.sol",
  StakersPool: "contracts/tokenomics/StakersPool.sol",
  FabstirTreasury: "contracts/tokenomics/FabstirTreasury.sol",
  FabstirGovernor: "contracts/governance/FabstirGovernor.sol",
  FabstirTimelock: "contracts/governance/FabstirTimelock.sol",
};

// ---------------------------------------------------------------------------------------------
// Errors: the checker could not check (the caller must not treat that as "compatible").

export class StorageLayoutError extends Error {
  override name = "StorageLayoutError";
}
/** The contract's source file does not exist, or does not define the contract. */
export class StorageLayoutSourceMissingError extends StorageLayoutError {
  override name = "StorageLayoutSourceMissingError";
}
/** The sources do not compile; `messages` are solc's errors. */
export class StorageLayoutCompileError extends StorageLayoutError {
  override name = "StorageLayoutCompileError";
  readonly messages: string[];
  constructor(message: string, messages: string[]) {
    super(message);
    this.messages = messages;
  }
}
/** No snapshot to compare with. */
export class StorageLayoutSnapshotMissingError extends StorageLayoutError {
  override name = "StorageLayoutSnapshotMissingError";
}

// ---------------------------------------------------------------------------------------------
// The layout model (what a snapshot holds).

/** A state variable, or a struct member: `slot` and `offset` are relative to its area. */
export interface StorageMember {
  label: string;
  slot: number;
  offset: number;
  /** A key of ContractLayout.types. */
  type: string;
}

export interface StorageType {
  label: string;
  encoding: "inplace" | "mapping" | "dynamic_array" | "bytes";
  numberOfBytes: number;
  /** Structs. */
  members?: StorageMember[];
  /** Mappings. */
  key?: string;
  value?: string;
  /** Arrays. */
  base?: string;
  /** Enums: the value names in order. */
  enumValues?: string[];
  /** User-defined value types: the underlying type. */
  underlying?: string;
}

export interface Namespace {
  /** The struct, as `Contract.Struct`. */
  struct: string;
  /** The root slot given by the formula (ERC-7201), null for another formula. */
  slot: Hex | null;
  members: StorageMember[];
}

export interface ContractLayout {
  contract: string;
  source: string;
  compiler: string;
  /** Ordinary (non-namespaced) state variables. */
  storage: StorageMember[];
  /** By `<formula>:<id>`, e.g. `erc7201:fabstir.storage.PaymentEscrow`. */
  namespaces: Record<string, Namespace>;
  /** Keyed by type label (made unique where two types share one). */
  types: Record<string, StorageType>;
}

/** The layout root of an ERC-7201 namespace. */
export function erc7201Slot(id: string): Hex {
  const inner = hexToBigInt(keccak256(stringToHex(id))) - 1n;
  const outer = hexToBigInt(keccak256(encodeAbiParameters([{ type: "uint256" }], [inner])));
  return toHex(outer & ~0xffn, { size: 32 });
}

// ---------------------------------------------------------------------------------------------
// Compiling with solc (wasm).

interface Solc {
  compile(input: string, callbacks: { import: (p: string) => ImportResult }): string;
  version(): string;
}
type ImportResult = { contents: string } | { error: string };

interface SolcError {
  severity: string;
  formattedMessage: string;
  sourceLocation?: { file: string };
}
interface SolcLayoutEntry {
  label: string;
  slot: string;
  offset: number;
  type: string;
}
interface SolcType {
  label: string;
  encoding: StorageType["encoding"];
  numberOfBytes: string;
  members?: SolcLayoutEntry[];
  key?: string;
  value?: string;
  base?: string;
}
interface SolcLayout {
  storage: SolcLayoutEntry[];
  types: Record<string, SolcType> | null;
}
interface SolcOutput {
  errors?: SolcError[];
  sources?: Record<string, { ast: AstNode }>;
  contracts?: Record<string, Record<string, { storageLayout?: SolcLayout }>>;
}
interface AstNode {
  id: number;
  nodeType: string;
  name?: string;
  nodes?: AstNode[];
  members?: AstNode[];
  linearizedBaseContracts?: number[];
  documentation?: { text?: string } | null;
  underlyingType?: { name?: string };
  symbolAliases?: { foreign: { referencedDeclaration?: number } }[];
}
interface Compiled {
  output: SolcOutput;
  errors: SolcError[];
  /** Every source unit read, with its text: the given ones and all they import. */
  files: Map<string, string>;
}

let solcInstance: Solc | undefined;
function solc(): Solc {
  solcInstance ??= createRequire(import.meta.url)("solc") as Solc;
  return solcInstance;
}

/** `0.8.30` (without the commit). */
const compilerVersion = () => solc().version().split("+")[0] ?? "";

/** Compiles by the hash of the input: a test or CLI compiles each set of sources once. */
const compileCache = new Map<string, Compiled>();

/** `path` as solc's source unit name: relative to the project when inside it, else absolute. */
function unitName(file: string, root: string): string {
  const abs = path.resolve(root, file);
  const rel = path.relative(root, abs);
  return rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel.split(path.sep).join("/");
}

/**
 * Compiles `sources` (unit name -> text) for `outputSelection`. The layout depends on neither
 * the optimizer nor viaIR, so this is analysis only (no bytecode); ASTs are asked for only
 * where needed, as solc's AST export costs several times the analysis.
 */
function compile(
  sources: Record<string, string>,
  outputSelection: Record<string, Record<string, string[]>>,
  root: string,
  parseOnly = false,
): Compiled {
  const input = JSON.stringify({
    language: "Solidity",
    sources: Object.fromEntries(Object.entries(sources).map(([k, content]) => [k, { content }])),
    settings: {
      ...(parseOnly ? { stopAfter: "parsing" } : {}),
      evmVersion: "cancun",
      remappings: REMAPPINGS,
      outputSelection,
    },
  });
  const key = createHash("sha256").update(root).update(input).digest("hex");
  const cached = compileCache.get(key);
  if (cached) return cached;
  const files = new Map(Object.entries(sources));
  const resolve = (p: string): ImportResult => {
    const contents = readUnit(p, root);
    if (contents === undefined) return { error: `not found: ${p}` };
    files.set(p, contents);
    return { contents };
  };
  const output = JSON.parse(solc().compile(input, { import: resolve })) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  const compiled = { output, errors, files };
  compileCache.set(key, compiled);
  return compiled;
}

// ---------------------------------------------------------------------------------------------
// Extracting layouts.

export interface LayoutTarget {
  /** The contract's name. */
  name: string;
  /** Its source file, relative to the project root (or absolute). */
  source: string;
}

interface NamespacedStruct {
  /** `<formula>:<id>` */
  id: string;
  contractName: string;
  structName: string;
  unit: string;
}

function walk(node: AstNode, visit: (n: AstNode, scope: string) => void, scope = ""): void {
  visit(node, scope);
  const inner = node.nodeType === "ContractDefinition" ? `${node.name}.` : scope;
  for (const child of node.nodes ?? []) walk(child, visit, inner);
}

/**
 * The storage layouts of `targets`, compiled together (a target that does not compile is
 * set apart, so it cannot hide the others). Each entry is the layout, or the
 * StorageLayoutError that says why there is none.
 */
export function extractLayouts(
  targets: readonly LayoutTarget[],
  options: { root?: string } = {},
): Map<string, ContractLayout | StorageLayoutError> {
  const root = options.root ?? ROOT;
  const result = new Map<string, ContractLayout | StorageLayoutError>();
  let pending: LayoutTarget[] = [];
  for (const t of targets) {
    if (existsSync(path.resolve(root, t.source))) pending.push(t);
    else result.set(t.name, new StorageLayoutSourceMissingError(`${t.source} does not exist`));
  }
  while (pending.length > 0) {
    let attempt: ReturnType<typeof extractTogether>;
    try {
      attempt = extractTogether(pending, root);
    } catch (e) {
      if (!(e instanceof StorageLayoutError)) throw e;
      for (const t of pending) result.set(t.name, e);
      break;
    }
    if (attempt instanceof Map) {
      for (const [name, layout] of attempt) result.set(name, layout);
      break;
    }
    // A target with errors in its own file fails: set it apart and retry the others. When the
    // errors are elsewhere (a shared dependency), compile each target alone to tell them apart.
    const own = pending.filter((t) => attempt.files.includes(unitName(t.source, root)));
    if (own.length === 0 || pending.length === 1) {
      for (const t of pending) {
        const alone = pending.length === 1 ? attempt : extractTogether([t], root);
        result.set(t.name, alone instanceof Map ? (alone.get(t.name) as ContractLayout) : alone);
      }
      break;
    }
    for (const t of own) result.set(t.name, attempt.only(t.name, unitName(t.source, root)));
    pending = pending.filter((t) => !own.includes(t));
  }
  return new Map(targets.map((t) => [t.name, result.get(t.name) as ContractLayout]));
}

/** A failed compile, with what it needs to tell the failing targets from the others. */
class FailedCompile extends StorageLayoutCompileError {
  readonly errors: SolcError[];
  constructor(what: string, errors: SolcError[]) {
    super(
      `${what} does not compile: ${errors[0]?.formattedMessage.split("\n")[0] ?? "unknown error"}`,
      errors.map((x) => x.formattedMessage),
    );
    this.errors = errors;
  }
  get files(): string[] {
    return this.errors.flatMap((x) => (x.sourceLocation ? [x.sourceLocation.file] : []));
  }
  /** The errors in one file, as a plain StorageLayoutCompileError. */
  only(what: string, file: string): StorageLayoutCompileError {
    const mine = this.errors.filter((x) => x.sourceLocation?.file === file);
    const e = new FailedCompile(what, mine);
    return new StorageLayoutCompileError(e.message, e.messages);
  }
}

const TAG = "@custom:storage-location";
const HARNESS = "__fabstir_storage_layout_harness__.sol";

function extractTogether(
  targets: readonly LayoutTarget[],
  root: string,
): Map<string, ContractLayout | StorageLayoutError> | FailedCompile {
  const sources: Record<string, string> = {};
  for (const t of targets) {
    sources[unitName(t.source, root)] = readFileSync(path.resolve(root, t.source), "utf8");
  }
  const what = targets.map((t) => t.name).join(", ");
  // The files the targets read, as their imports say; the compiler's own list (what it read)
  // then confirms that no file with a namespace was missed, or the harness is made again.
  const files = importClosure(sources, root);
  let structs: NamespacedStruct[];
  let second: Compiled;
  for (let parsed = false; ; ) {
    structs = namespacedStructs(files, root, parsed);
    second = compileHarness(sources, targets, structs, root);
    if (!parsed && second.errors.some((e) => e.sourceLocation?.file === HARNESS)) {
      parsed = true;
      continue;
    }
    if (second.errors.length > 0) return new FailedCompile(what, second.errors);
    const missed = [...second.files].filter(([u, text]) => !files.has(u) && text.includes(TAG));
    if (missed.length === 0) break;
    for (const [u, text] of missed) files.set(u, text);
  }
  const harnessAst = second.output.sources?.[HARNESS]?.ast;
  const harnessLayout = second.output.contracts?.[HARNESS]?.StorageLayoutHarness?.storageLayout;
  const solcTypes: Record<string, SolcType> = { ...harnessLayout?.types };
  // The contract each struct is in, by AST id (what linearizedBaseContracts lists).
  const imports = (harnessAst?.nodes ?? []).filter((n) => n.nodeType === "ImportDirective");
  const inContract = structs.map(
    (_, i) => imports[i]?.symbolAliases?.[0]?.foreign.referencedDeclaration,
  );
  const typeOf = structs.map(
    (_, i) => harnessLayout?.storage.find((e) => e.label === `s${i}`)?.type,
  );

  const result = new Map<string, ContractLayout | StorageLayoutError>();
  for (const t of targets) {
    const unit = unitName(t.source, root);
    let contract: AstNode | undefined;
    walk(second.output.sources?.[unit]?.ast ?? { id: -1, nodeType: "" }, (n) => {
      if (n.nodeType === "ContractDefinition" && n.name === t.name) contract = n;
    });
    const compiled = second.output.contracts?.[unit]?.[t.name]?.storageLayout;
    if (!contract || !compiled) {
      result.set(
        t.name,
        new StorageLayoutSourceMissingError(`${t.source} has no contract ${t.name}`),
      );
      continue;
    }
    const types = new TypeTable({ ...solcTypes, ...compiled.types }, (label) =>
      definitionOf(label, second.files, root),
    );
    const namespaces: Record<string, Namespace> = {};
    let problem: string | undefined;
    // Most basic first, as the contract's storage is laid out.
    for (const base of [...(contract.linearizedBaseContracts ?? [])].reverse()) {
      structs.forEach((s, i) => {
        if (inContract[i] !== base) return;
        const members = solcTypes[typeOf[i] ?? ""]?.members;
        if (namespaces[s.id] || !members) {
          problem = `${t.name}: ${members ? "two structs use" : "no layout for"} ${s.id}`;
          return;
        }
        const slot = s.id.startsWith("erc7201:")
          ? erc7201Slot(s.id.slice("erc7201:".length))
          : null;
        const struct = `${s.contractName}.${s.structName}`;
        namespaces[s.id] = { struct, slot, members: types.members(members) };
      });
    }
    if (problem) {
      result.set(t.name, new StorageLayoutError(problem));
      continue;
    }
    result.set(t.name, {
      contract: t.name,
      source: unit,
      compiler: compilerVersion(),
      storage: types.members(compiled.storage),
      namespaces,
      types: types.types,
    });
  }
  return result;
}

/** The text of a source unit: a project path, a package in node_modules, or an absolute path. */
function readUnit(unit: string, root: string): string | undefined {
  const candidates = path.isAbsolute(unit)
    ? [unit]
    : [path.join(root, unit), path.join(root, "node_modules", unit)];
  const found = candidates.find((c) => existsSync(c));
  return found === undefined ? undefined : readFileSync(found, "utf8");
}

/** The files `sources` import, directly or not, found by their import statements. */
function importClosure(sources: Record<string, string>, root: string): Map<string, string> {
  const files = new Map(Object.entries(sources));
  const queue = [...files.keys()];
  for (let unit = queue.pop(); unit !== undefined; unit = queue.pop()) {
    const text = files.get(unit) ?? "";
    for (const [, spec] of text.matchAll(/\bimport\s+(?:[^;"']*?\bfrom\s+)?["']([^"']+)["']/g)) {
      if (!spec) continue;
      let target = spec.startsWith(".") ? path.posix.join(path.posix.dirname(unit), spec) : spec;
      for (const r of REMAPPINGS) {
        const [prefix = "", to = ""] = r.split("=");
        if (target.startsWith(prefix)) target = to + target.slice(prefix.length);
      }
      if (files.has(target)) continue;
      const content = readUnit(target, root);
      if (content === undefined) continue;
      files.set(target, content);
      queue.push(target);
    }
  }
  return files;
}

/**
 * The structs marked as a storage location in `files`. A scan of the text finds them (solc's
 * AST export of the big OpenZeppelin files costs more than the whole analysis); `parsed`
 * finds them from solc's parse instead, which extractTogether falls back to when the scan's
 * names do not compile.
 */
function namespacedStructs(
  files: ReadonlyMap<string, string>,
  root: string,
  parsed: boolean,
): NamespacedStruct[] {
  const tagged = [...files].filter(([, text]) => text.includes(TAG));
  if (!parsed) return tagged.flatMap(([unit, text]) => scanStructs(unit, text));
  const structs: NamespacedStruct[] = [];
  for (const [unit, { ast }] of Object.entries(parse(Object.fromEntries(tagged), root))) {
    walk(ast, (n, scope) => {
      const id = n.documentation?.text?.match(/@custom:storage-location\s+(\S+)/)?.[1];
      if (n.nodeType !== "StructDefinition" || !id) return;
      if (!scope)
        throw new StorageLayoutError(`${unit}: ${n.name} is namespaced outside a contract`);
      structs.push({ id, contractName: scope.slice(0, -1), structName: n.name ?? "", unit });
    });
  }
  return structs;
}

/** Namespaced structs by scanning the text with comments and strings blanked out. */
function scanStructs(unit: string, text: string): NamespacedStruct[] {
  const code = text.replace(
    /\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g,
    (m) => m.replace(/[^\n]/g, " "),
  );
  // Each contract's body: from its `{` to the matching `}`.
  const bodies: { name: string; start: number; end: number }[] = [];
  for (const m of code.matchAll(/\b(?:contract|interface|library)\s+(\w+)[^{;]*\{/g)) {
    const start = (m.index ?? 0) + m[0].length;
    let depth = 1;
    let end = start;
    for (; end < code.length && depth > 0; end++)
      depth += code[end] === "{" ? 1 : code[end] === "}" ? -1 : 0;
    bodies.push({ name: m[1] ?? "", start, end });
  }
  const structs: NamespacedStruct[] = [];
  for (const m of text.matchAll(/@custom:storage-location\s+(\S+)/g)) {
    // The struct right after the comment holding the tag (only blanks in between).
    const after = code.slice(m.index ?? 0).match(/^\s*struct\s+(\w+)/);
    if (!after?.[1] || code.slice(m.index ?? 0, (m.index ?? 0) + 1) !== " ") continue;
    const at = m.index ?? 0;
    const contract = bodies.find((b) => b.start <= at && at < b.end);
    if (!contract)
      throw new StorageLayoutError(`${unit}: ${after[1]} is namespaced outside a contract`);
    structs.push({ id: m[1] ?? "", contractName: contract.name, structName: after[1], unit });
  }
  return structs;
}

/** The targets with a harness that declares one state variable of each namespaced struct. */
function compileHarness(
  sources: Record<string, string>,
  targets: readonly LayoutTarget[],
  structs: readonly NamespacedStruct[],
  root: string,
): Compiled {
  const harness = [
    "// SPDX-License-Identifier: UNLICENSED",
    "pragma solidity >=0.8.0;",
    ...structs.map((s, i) => `import {${s.contractName} as SL${i}} from "${s.unit}";`),
    "contract StorageLayoutHarness {",
    ...structs.map((s, i) => `    SL${i}.${s.structName} internal s${i};`),
    "}",
  ].join("\n");
  // ASTs only for the targets (their linearized bases) and the harness (its imports' ids).
  const selection: Record<string, Record<string, string[]>> = {
    [HARNESS]: { "": ["ast"], StorageLayoutHarness: ["storageLayout"] },
  };
  for (const t of targets) {
    const unit = unitName(t.source, root);
    selection[unit] = { ...selection[unit], "": ["ast"], [t.name]: ["storageLayout"] };
  }
  return compile({ ...sources, [HARNESS]: harness }, selection, root);
}

/** The ASTs of `sources` parsed alone (no imports, no types: cheap). */
function parse(sources: Record<string, string>, root: string): Record<string, { ast: AstNode }> {
  if (Object.keys(sources).length === 0) return {};
  const parsed = compile(sources, { "*": { "": ["ast"] } }, root, true);
  if (parsed.errors.length > 0) throw new FailedCompile("a dependency", parsed.errors);
  return parsed.output.sources ?? {};
}

/** What a type label leaves out: an enum's values, a user-defined value type's underlying type. */
function definitionOf(
  label: string,
  files: ReadonlyMap<string, string>,
  root: string,
): Pick<StorageType, "enumValues" | "underlying"> {
  const match = label.match(/^(?:enum )?(?:(\w+)\.)?(\w+)$/);
  if (!match?.[2] || /^(u?int|bytes|bool|address)\d*$/.test(label)) return {};
  const [, scope, name] = match;
  const pattern = new RegExp(`\\b(enum\\s+${name}\\b|type\\s+${name}\\s+is\\b)`);
  const candidates = [...files].filter(([, text]) => pattern.test(text));
  for (const { ast } of Object.values(parse(Object.fromEntries(candidates), root))) {
    let found: Pick<StorageType, "enumValues" | "underlying"> | undefined;
    walk(ast, (n, at) => {
      if (n.name !== name || at !== (scope ? `${scope}.` : "")) return;
      if (n.nodeType === "EnumDefinition")
        found = { enumValues: (n.members ?? []).map((m) => m.name ?? "") };
      if (n.nodeType === "UserDefinedValueTypeDefinition")
        found = { underlying: n.underlyingType?.name ?? "" };
    });
    if (found) return found;
  }
  return {};
}

/** Turns solc's types (keyed by ids that change with every edit) into label-keyed ones. */
class TypeTable {
  readonly types: Record<string, StorageType> = {};
  private readonly keys = new Map<string, string>();
  private readonly solcTypes: Record<string, SolcType>;
  private readonly define: (label: string) => Pick<StorageType, "enumValues" | "underlying">;
  constructor(
    solcTypes: Record<string, SolcType>,
    define: (label: string) => Pick<StorageType, "enumValues" | "underlying">,
  ) {
    this.solcTypes = solcTypes;
    this.define = define;
  }

  members(entries: readonly SolcLayoutEntry[]): StorageMember[] {
    return entries.map((e) => ({
      label: e.label,
      slot: Number(e.slot),
      offset: e.offset,
      type: this.key(e.type),
    }));
  }

  private key(solcId: string): string {
    const known = this.keys.get(solcId);
    if (known) return known;
    const t = this.solcTypes[solcId];
    if (!t) throw new StorageLayoutError(`solc gave no description of type ${solcId}`);
    let key = t.label;
    for (let n = 2; this.types[key]; n++) key = `${t.label} #${n}`;
    this.keys.set(solcId, key);
    const type: StorageType = {
      label: t.label,
      encoding: t.encoding,
      numberOfBytes: Number(t.numberOfBytes),
    };
    this.types[key] = type;
    if (/^t_(enum|userDefinedValueType)\(/.test(solcId)) Object.assign(type, this.define(t.label));
    if (t.members) type.members = this.members(t.members);
    if (t.key) type.key = this.key(t.key);
    if (t.value) type.value = this.key(t.value);
    if (t.base) type.base = this.key(t.base);
    return key;
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing an old layout (the snapshot) with a new one.

export type LayoutIssueKind =
  /** Errors: the new layout would read or overwrite the old state wrongly. */
  | "namespace-removed"
  | "member-removed"
  | "member-moved"
  | "member-inserted"
  | "type-changed"
  | "struct-resized"
  /** Warnings: the same storage under a new name. */
  | "member-renamed"
  | "type-renamed";

export interface LayoutIssue {
  severity: "error" | "warning";
  kind: LayoutIssueKind;
  /** `storage` for ordinary state variables, else the namespace (`erc7201:<id>`). */
  area: string;
  /** Where: `config.feeDiscounts`, `jobs[uint256].state`, `history[].amount`. */
  path: string;
  message: string;
}

export interface LayoutComparison {
  errors: LayoutIssue[];
  warnings: LayoutIssue[];
  /** Namespaces the new layout adds (fine). */
  addedNamespaces: string[];
}

const WARNINGS: ReadonlySet<LayoutIssueKind> = new Set(["member-renamed", "type-renamed"]);
const at = (m: StorageMember) => `slot ${m.slot} offset ${m.offset}`;

/** Compares `next` (the new sources) with `prev` (what live proxies hold). */
export function compareLayouts(prev: ContractLayout, next: ContractLayout): LayoutComparison {
  const issues: LayoutIssue[] = [];
  const seen = new Set<string>();
  const report = (area: string, where: string, kind: LayoutIssueKind, message: string) =>
    issues.push({
      severity: WARNINGS.has(kind) ? "warning" : "error",
      kind,
      area,
      path: where,
      message,
    });

  /** Same bytes for the old state, given where the type is stored. */
  function compareType(
    area: string,
    where: string,
    oldKey: string,
    newKey: string,
    fixedSize: boolean,
  ) {
    const o = prev.types[oldKey];
    const n = next.types[newKey];
    if (!o || !n) throw new StorageLayoutError(`a snapshot lacks type ${o ? newKey : oldKey}`);
    // A struct reached again (a second member of its type, or itself through a mapping) is
    // checked once: that also ends the recursion of a struct that maps to itself.
    const memo = `${area}|${oldKey}|${newKey}|${fixedSize}`;
    if (o.members && seen.has(memo)) return;
    seen.add(memo);
    const issue = (kind: LayoutIssueKind, message: string) => report(area, where, kind, message);
    const changed = `${where}: type changed from ${o.label} to ${n.label}`;
    if (o.encoding !== n.encoding || Boolean(o.members) !== Boolean(n.members)) {
      issue("type-changed", changed);
    } else if (o.members && n.members) {
      if (o.label !== n.label) issue("type-renamed", `${where}: ${o.label} is now ${n.label}`);
      compareMembers(area, where, o.members, n.members);
      if (fixedSize && o.numberOfBytes !== n.numberOfBytes) {
        const sizes = `from ${o.numberOfBytes} to ${n.numberOfBytes} bytes`;
        issue(
          "struct-resized",
          `${where}: ${n.label} is an array element and changed size ${sizes}`,
        );
      }
    } else if (o.encoding === "mapping") {
      const oldKeyType = prev.types[o.key ?? ""];
      if (!sameValue(oldKeyType, next.types[n.key ?? ""])) {
        issue("type-changed", `${where}: mapping key changed: ${o.label} is now ${n.label}`);
      } else {
        const value = `${where}[${oldKeyType?.label}]`;
        compareType(area, value, o.value ?? "", n.value ?? "", false);
      }
    } else if (o.base !== undefined && n.base !== undefined) {
      // Arrays: the elements keep their stride; a static array's length is part of its size.
      const shrunk = o.numberOfBytes > n.numberOfBytes;
      const resized = fixedSize && o.numberOfBytes !== n.numberOfBytes;
      if (o.encoding === "inplace" && (shrunk || resized)) issue("type-changed", changed);
      else compareType(area, `${where}[]`, o.base, n.base, true);
    } else if (o.enumValues && n.enumValues && !sameEnum(o, n)) {
      const values = `[${o.enumValues.join(", ")}] to [${n.enumValues.join(", ")}]`;
      issue("type-changed", `${where}: ${n.label} went from ${values}: only append enum values`);
    } else if (o.label !== n.label || o.numberOfBytes !== n.numberOfBytes) {
      if (sameValue(o, n))
        issue("type-renamed", `${where}: ${o.label} is now ${n.label} (same storage)`);
      else issue("type-changed", changed);
    }
  }

  /** Old members stay where they are with compatible types; new ones come after them. */
  function compareMembers(
    area: string,
    prefix: string,
    oldMembers: readonly StorageMember[],
    newMembers: readonly StorageMember[],
  ): void {
    const name = (m: StorageMember) => (prefix ? `${prefix}.${m.label}` : m.label);
    const pos = (m: StorageMember) => m.slot * 32 + m.offset;
    const oldEnd = Math.max(
      0,
      ...oldMembers.map((m) => pos(m) + (prev.types[m.type]?.numberOfBytes ?? 0)),
    );
    const oldLabels = new Set(oldMembers.map((m) => m.label));
    const kept = new Set<StorageMember>();
    for (const o of oldMembers) {
      const sameName = newMembers.find((m) => m.label === o.label);
      const samePlace = newMembers.find((m) => pos(m) === pos(o));
      if (sameName && sameName === samePlace) {
        kept.add(sameName);
        compareType(area, name(o), o.type, sameName.type, false);
      } else if (sameName) {
        report(area, name(o), "member-moved", `${name(o)} moved from ${at(o)} to ${at(sameName)}`);
      } else if (samePlace && !oldLabels.has(samePlace.label)) {
        kept.add(samePlace);
        report(
          area,
          name(o),
          "member-renamed",
          `${name(o)} at ${at(o)} is now named ${samePlace.label}`,
        );
        compareType(area, name(o), o.type, samePlace.type, false);
      } else {
        const type = prev.types[o.type]?.label;
        report(area, name(o), "member-removed", `${name(o)} (${type} at ${at(o)}) was removed`);
      }
    }
    for (const n of newMembers) {
      if (kept.has(n) || oldLabels.has(n.label) || pos(n) >= oldEnd) continue;
      report(
        area,
        name(n),
        "member-inserted",
        `${name(n)} was inserted at ${at(n)}, inside the old layout: new members may only be appended after the last old one`,
      );
    }
  }

  for (const [id, o] of Object.entries(prev.namespaces)) {
    const n = next.namespaces[id];
    if (!n) {
      report(
        id,
        "",
        "namespace-removed",
        `namespace ${id} (${o.struct}) was removed: its state would be orphaned`,
      );
      continue;
    }
    if (o.struct !== n.struct)
      report(id, "", "type-renamed", `namespace ${id}: struct ${o.struct} is now ${n.struct}`);
    compareMembers(id, "", o.members, n.members);
  }
  compareMembers("storage", "", prev.storage, next.storage);
  // Causes first (what was inserted, removed or changed), then what they moved.
  const order: LayoutIssueKind[] = ["member-moved", "member-renamed", "type-renamed"];
  issues.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  return {
    errors: issues.filter((i) => i.severity === "error"),
    warnings: issues.filter((i) => i.severity === "warning"),
    addedNamespaces: Object.keys(next.namespaces).filter((id) => !prev.namespaces[id]),
  };
}

/** The storage a value type takes: an address under any name, an enum, a UDVT's underlying. */
function valueKind(t: StorageType): string {
  if (t.enumValues) return "enum";
  const label = t.underlying ?? t.label;
  return /^(address|contract )/.test(label) ? "address" : label;
}

function sameEnum(o: StorageType, n: StorageType): boolean {
  const [a, b] = [o.enumValues ?? [], n.enumValues ?? []];
  return a.every((v, i) => b[i] === v);
}

/** Same storage for every old value (an enum may gain values at the end). */
function sameValue(o: StorageType | undefined, n: StorageType | undefined): boolean {
  if (!o || !n || o.encoding !== n.encoding || o.numberOfBytes !== n.numberOfBytes) return false;
  if (o.encoding === "bytes") return true; // string <-> bytes: the same encoding
  return valueKind(o) === valueKind(n) && sameEnum(o, n);
}

// ---------------------------------------------------------------------------------------------
// Snapshots and upgrade checks.

const memberSchema = z.object({
  label: z.string(),
  slot: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  type: z.string(),
});
const layoutSchema = z.object({
  contract: z.string(),
  source: z.string(),
  compiler: z.string(),
  storage: z.array(memberSchema),
  namespaces: z.record(
    z.string(),
    z.object({
      struct: z.string(),
      slot: z
        .string()
        .regex(/^0x[0-9a-f]{64}$/)
        .nullable(),
      members: z.array(memberSchema),
    }),
  ),
  types: z.record(
    z.string(),
    z.object({
      label: z.string(),
      encoding: z.enum(["inplace", "mapping", "dynamic_array", "bytes"]),
      numberOfBytes: z.number().int().positive(),
      members: z.array(memberSchema).optional(),
      key: z.string().optional(),
      value: z.string().optional(),
      base: z.string().optional(),
      enumValues: z.array(z.string()).optional(),
      underlying: z.string().optional(),
    }),
  ),
});

export interface CheckOptions {
  /** The project root (default: this repository). */
  root?: string;
  /** The folder of snapshots (default: storage-layouts/ under root). */
  snapshotDir?: string;
}

function snapshotFile(name: string, options: CheckOptions): string {
  const root = options.root ?? ROOT;
  return path.resolve(root, options.snapshotDir ?? SNAPSHOT_DIR, `${name}.json`);
}

/** Reads and validates a snapshot file. */
export function readSnapshot(file: string): ContractLayout {
  if (!existsSync(file)) throw new StorageLayoutSnapshotMissingError(`no snapshot at ${file}`);
  const parsed = layoutSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) {
    throw new StorageLayoutError(
      `${file} is not a storage-layout snapshot: ${parsed.error.message}`,
    );
  }
  return parsed.data as ContractLayout;
}

/** Writes `layout` as <dir>/<contract>.json and returns the file's path. */
export function writeSnapshot(layout: ContractLayout, options: CheckOptions = {}): string {
  const file = snapshotFile(layout.contract, options);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${toJson(layout)}\n`);
  return file;
}

/**
 * JSON as the formatter (Biome) leaves it, with one line per struct member so that a diff
 * shows what moved. Biome keeps an object expanded when it was, and puts an array on one line
 * when it fits in 100 columns; `used` is what the line holds before the value, `tail` what
 * follows it (a comma).
 */
function toJson(value: unknown, indent = "", used = 0, tail = 0): string {
  const inner = `${indent}  `;
  const flat = (v: unknown): string | undefined => {
    if (v === null || typeof v !== "object") return JSON.stringify(v);
    if (Array.isArray(v)) {
      const items = v.map(flat);
      return items.every((x) => x !== undefined) ? `[${items.join(", ")}]` : undefined;
    }
    if (!("slot" in v) || Object.values(v).some((x) => typeof x === "object")) return undefined;
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}: ${JSON.stringify(x)}`)
      .join(", ")} }`;
  };
  const oneLine = flat(value);
  if (
    oneLine !== undefined &&
    (Array.isArray(value) ? used : indent.length) + oneLine.length + tail <= 100
  )
    return oneLine;
  if (Array.isArray(value)) {
    const last = value.length - 1;
    const lines = value.map((v, i) => inner + toJson(v, inner, inner.length, i < last ? 1 : 0));
    return `[\n${lines.join(",\n")}\n${indent}]`;
  }
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  const lines = entries.map(([k, v], i) => {
    const key = `${inner}${JSON.stringify(k)}: `;
    return key + toJson(v, inner, key.length, i < entries.length - 1 ? 1 : 0);
  });
  return `{\n${lines.join(",\n")}\n${indent}}`;
}

/** Where a contract's source is: the known list, else contracts/<any folder>/<Name>.sol. */
export function sourceOf(name: string, options: CheckOptions = {}): string {
  const known = UPGRADEABLE_CONTRACTS[name];
  if (known) return known;
  const root = options.root ?? ROOT;
  const dirs = readdirSync(path.join(root, "contracts"), { withFileTypes: true });
  for (const d of dirs) {
    const file = `contracts/${d.name}/${name}.sol`;
    if (d.isDirectory() && d.name !== "test" && existsSync(path.join(root, file))) return file;
  }
  return `contracts/${name}.sol`;
}

interface UpgradeCheckBase {
  contract: string;
  /** The source compiled. */
  source: string;
  /** The snapshot compared with. */
  snapshot: string;
  warnings: LayoutIssue[];
  addedNamespaces: string[];
}
/** The outcome of comparing a contract's sources with its snapshot. */
export type UpgradeCheck =
  | (UpgradeCheckBase & { status: "compatible"; errors: [] })
  | (UpgradeCheckBase & { status: "incompatible"; errors: LayoutIssue[] });

/** What to check: the contract, and optionally a source and a snapshot other than its own. */
export interface UpgradeTarget {
  name: string;
  /** The new source (default: the known list, or the snapshot's source). */
  source?: string;
  /** The old layout's snapshot file (default: <snapshotDir>/<name>.json). */
  snapshot?: string;
}

/**
 * Checks several contracts, compiled together. Each outcome is an UpgradeCheck, or the
 * StorageLayoutError saying why the contract could not be checked (no snapshot, no source,
 * does not compile).
 */
export function checkUpgrades(
  targets: readonly UpgradeTarget[],
  options: CheckOptions = {},
): Map<string, UpgradeCheck | StorageLayoutError> {
  const outcomes = new Map<string, UpgradeCheck | StorageLayoutError>();
  const snapshots = new Map<string, { file: string; layout: ContractLayout }>();
  const sources: LayoutTarget[] = [];
  for (const t of targets) {
    const file = t.snapshot ? path.resolve(t.snapshot) : snapshotFile(t.name, options);
    try {
      const layout = readSnapshot(file);
      snapshots.set(t.name, { file, layout });
      const known = UPGRADEABLE_CONTRACTS[t.name];
      sources.push({ name: t.name, source: t.source ?? known ?? layout.source });
    } catch (e) {
      if (!(e instanceof StorageLayoutError)) throw e;
      outcomes.set(t.name, e);
    }
  }
  const layouts = extractLayouts(sources, options);
  for (const { name, source } of sources) {
    const next = layouts.get(name);
    const old = snapshots.get(name);
    if (!next || !old) continue;
    if (next instanceof StorageLayoutError) {
      outcomes.set(name, next);
      continue;
    }
    const { errors, warnings, addedNamespaces } = compareLayouts(old.layout, next);
    const base = { contract: name, source, snapshot: old.file, warnings, addedNamespaces };
    outcomes.set(
      name,
      errors.length === 0
        ? { ...base, status: "compatible", errors: [] }
        : { ...base, status: "incompatible", errors },
    );
  }
  return new Map(targets.map((t) => [t.name, outcomes.get(t.name) as UpgradeCheck]));
}

/**
 * Checks that the current source of `name` can upgrade the proxies whose layout its snapshot
 * records. A governance tool makes an upgrade proposal only when `status` is "compatible".
 * Throws a StorageLayoutError when it cannot check (no snapshot, no source, does not compile).
 */
export function checkUpgrade(
  name: string,
  options: CheckOptions & Omit<UpgradeTarget, "name"> = {},
): UpgradeCheck {
  const outcome = checkUpgrades(
    [{ name, source: options.source, snapshot: options.snapshot }],
    options,
  ).get(name);
  if (outcome instanceof StorageLayoutError) throw outcome;
  if (!outcome) throw new StorageLayoutError(`${name} was not checked`);
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// CLI.

const USAGE = `usage:
  node scripts/storage-layout.ts snapshot [Name...]
  node scripts/storage-layout.ts check [Name...]
  node scripts/storage-layout.ts check --old <snapshot.json> --source <path.sol>:<Name>`;

/** Where the CLI writes its lines (stdout; a test passes its own). */
type Out = (line: string) => void;

function why(e: StorageLayoutError): string {
  return e.message.split("\n")[0] ?? e.name;
}

const issueLine = (issue: LayoutIssue) =>
  `    ${issue.severity.padEnd(7)} [${issue.area}] ${issue.message}`;

function snapshotCommand(names: string[], explicit: boolean, line: Out): number {
  const started = performance.now();
  const layouts = extractLayouts(names.map((name) => ({ name, source: sourceOf(name) })));
  let failed = 0;
  for (const [name, layout] of layouts) {
    if (layout instanceof StorageLayoutError) {
      line(`${name.padEnd(18)} skipped: ${why(layout)}`);
      if (explicit) failed++;
      continue;
    }
    const file = path.relative(process.cwd(), writeSnapshot(layout));
    const count = Object.keys(layout.namespaces).length;
    line(
      `${name.padEnd(18)} wrote ${file} (${count} namespaces, ${layout.storage.length} ordinary variables)`,
    );
  }
  line(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return failed > 0 ? 1 : 0;
}

function checkCommand(targets: UpgradeTarget[], explicit: boolean, line: Out): number {
  const started = performance.now();
  let incompatible = 0;
  let unchecked = 0;
  for (const [name, outcome] of checkUpgrades(targets)) {
    if (outcome instanceof StorageLayoutSnapshotMissingError && !explicit) {
      line(`${name.padEnd(18)} no snapshot: nothing to compare with (snapshot it once deployed)`);
    } else if (outcome instanceof StorageLayoutError) {
      line(`${name.padEnd(18)} ${explicit ? "NOT CHECKED" : "skipped"}: ${why(outcome)}`);
      if (explicit) unchecked++;
    } else if (outcome.status === "compatible") {
      const notes = [
        outcome.warnings.length > 0 ? `${outcome.warnings.length} warnings` : "",
        outcome.addedNamespaces.length > 0 ? `new: ${outcome.addedNamespaces.join(", ")}` : "",
      ].filter(Boolean);
      line(`${name.padEnd(18)} compatible${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`);
      for (const w of outcome.warnings) line(issueLine(w));
    } else {
      incompatible++;
      line(
        `${name.padEnd(18)} INCOMPATIBLE with ${path.relative(process.cwd(), outcome.snapshot)}`,
      );
      for (const i of [...outcome.errors, ...outcome.warnings]) line(issueLine(i));
    }
  }
  line(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (incompatible > 0) {
    line("");
    line(`${incompatible} contract(s) have a storage layout that would corrupt the state of`);
    line("their live proxies. Keep every old member where it is (same slot, offset and type),");
    line("append new members after the last one, and never remove a namespace.");
  }
  return incompatible > 0 || unchecked > 0 ? 1 : 0;
}

/** Runs the CLI with `argv` (the arguments after the script) and returns the exit code. */
export function main(argv: string[], line: Out = (l) => process.stdout.write(`${l}\n`)): number {
  let parsed: ReturnType<typeof parseCli>;
  try {
    parsed = parseCli(argv);
  } catch (e) {
    line(`${e instanceof Error ? e.message : e}\n${USAGE}`);
    return 2;
  }
  const { command, names, old, source } = parsed;
  const explicit = names.length > 0;
  if (command === "snapshot") {
    return snapshotCommand(explicit ? names : Object.keys(UPGRADEABLE_CONTRACTS), explicit, line);
  }
  if (old && source) return checkCommand([{ ...source, snapshot: old }], true, line);
  const dir = path.join(ROOT, SNAPSHOT_DIR);
  const snapshots = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".json"))
        .map((f) => f.slice(0, -".json".length))
    : [];
  const all = [...new Set([...Object.keys(UPGRADEABLE_CONTRACTS), ...snapshots])];
  return checkCommand(
    (explicit ? names : all).map((name) => ({ name })),
    explicit,
    line,
  );
}

/** The command line, validated: throws a message for the user on anything else. */
function parseCli(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { old: { type: "string" }, source: { type: "string" } },
  });
  const [command, ...names] = positionals;
  if (command !== "snapshot" && command !== "check") throw new Error("unknown command");
  if (values.old === undefined && values.source === undefined) return { command, names };
  const match = values.source?.match(/^(.+\.sol):(\w+)$/);
  if (command !== "check" || !values.old || !match?.[1] || !match[2] || names.length > 0) {
    throw new Error(
      "--old <snapshot.json> and --source <path.sol>:<Name> go together, after check",
    );
  }
  const source = { name: match[2], source: path.resolve(match[1]) };
  return { command, names, old: path.resolve(values.old), source };
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  process.exitCode = main(process.argv.slice(2));
}
