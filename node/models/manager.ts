/**
 * Loads the node's configured models on demand and keeps them in memory under a budget,
 * evicting the least recently used model that nobody is using. Every file is validated
 * (node/models/validate.ts) before llama.cpp sees it. GPU: node-llama-cpp detects the
 * GPU backend (CUDA, Vulkan, Metal) and free VRAM; layers are offloaded automatically to
 * fit, and loading falls back to the CPU when the GPU cannot take the model.
 */

import { totalmem } from "node:os";
import { getLlama, type Llama, type LlamaGpuType, type LlamaModel } from "node-llama-cpp";
import { type Logger, silentLogger } from "../../protocol/logger.ts";
import { hashOfModelId } from "../../protocol/model-id.ts";
import { MODEL_MEMORY_FRACTION } from "../constants.ts";
import { ModelMemoryError, ModelNotFoundError, StoppedError } from "../errors.ts";
import { type ModelRole, validateModelFile } from "./validate.ts";

export interface ModelConfig {
  /** The id renters ask for; `sha256:<hex>` ids are checked against the file's hash. */
  id: string;
  path: string;
  role: ModelRole;
  /** Expected sha256 of the file (hex); the file is refused when it differs. */
  sha256?: string;
  /** Layers to offload to the GPU: "auto" fits as many as free VRAM allows; 0 keeps the model on the CPU. */
  gpuLayers?: "auto" | number;
}

export interface ComputeInfo {
  gpu: LlamaGpuType;
  vram?: { total: number; free: number };
  cpuCores: number;
}

export interface LoadedModel {
  id: string;
  role: ModelRole;
  model: LlamaModel;
  architecture: string;
  sha256: string;
  bytes: number;
  gpuLayers: number;
  /** Ends this use; the model stays cached until evicted. */
  release: () => void;
}

export interface ModelManager {
  readonly llama: Llama;
  start: () => Promise<void>;
  /** The model, loaded if needed; call `release()` when done with it. */
  acquire: (id: string) => Promise<LoadedModel>;
  config: (id: string) => ModelConfig;
  compute: () => Promise<ComputeInfo>;
  /** Ids of the models in memory, most recently used last. */
  loadedIds: () => string[];
  stop: () => Promise<void>;
}

export interface ModelManagerOptions {
  models: ModelConfig[];
  /** Bytes the loaded models may take together; default half the machine's RAM. */
  memoryBudgetBytes?: number;
  /** "auto" detects a GPU and falls back to the CPU; false forces the CPU. */
  gpu?: "auto" | false | "cuda" | "vulkan" | "metal";
  /** Validate every configured file in start(), so a bad file stops the node at boot. */
  validateOnStart?: boolean;
  logger?: Logger;
}

interface Entry {
  config: ModelConfig;
  loading?: Promise<Omit<LoadedModel, "release">>;
  loaded?: Omit<LoadedModel, "release">;
  users: number;
  lastUsed: number;
}

export function createModelManager(options: ModelManagerOptions): ModelManager {
  const log = options.logger ?? silentLogger;
  const budget = options.memoryBudgetBytes ?? Math.floor(totalmem() * MODEL_MEMORY_FRACTION);
  const entries = new Map<string, Entry>();
  for (const config of options.models) {
    if (entries.has(config.id)) throw new Error(`model ${config.id} is configured twice`);
    entries.set(config.id, { config, users: 0, lastUsed: 0 });
  }
  let llama: Llama | undefined;
  let stopped = false;
  let clock = 0;
  // Loads run one at a time, so two loads cannot both fit into the same free memory.
  let loadChain: Promise<unknown> = Promise.resolve();

  const entryOf = (id: string): Entry => {
    const e = entries.get(id);
    if (!e) throw new ModelNotFoundError(`model ${id} is not served by this node`);
    return e;
  };
  const usedBytes = () => [...entries.values()].reduce((sum, e) => sum + (e.loaded?.bytes ?? 0), 0);

  /** Evicts idle models, least recently used first, until `bytes` more fit in the budget. */
  async function makeRoom(bytes: number, forId: string): Promise<void> {
    const idle = [...entries.values()]
      .filter((e) => e.loaded && e.users === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    while (usedBytes() + bytes > budget) {
      const victim = idle.shift();
      if (!victim?.loaded) {
        throw new ModelMemoryError(
          `model ${forId} needs ${bytes} bytes; ${usedBytes()} of the ${budget}-byte budget are held by models in use`,
        );
      }
      const { model, id } = victim.loaded;
      victim.loaded = undefined;
      victim.loading = undefined;
      log.info({ model_id: id }, "evicting model");
      await model.dispose();
    }
  }

  async function load(entry: Entry): Promise<Omit<LoadedModel, "release">> {
    const { config } = entry;
    const expected = config.sha256 ?? hashOfModelId(config.id);
    const file = await validateModelFile(config.path, config.role, expected);
    if (file.bytes > budget)
      throw new ModelMemoryError(
        `model ${config.id} (${file.bytes} bytes) exceeds the ${budget}-byte budget`,
      );
    await makeRoom(file.bytes, config.id);
    const l = llama as Llama;
    const gpuLayers = l.gpu === false ? 0 : (config.gpuLayers ?? "auto");
    let model: LlamaModel;
    try {
      model = await l.loadModel({ modelPath: config.path, gpuLayers });
    } catch (e) {
      if (gpuLayers === 0) throw e;
      log.warn({ model_id: config.id, err: String(e) }, "GPU load failed, loading on the CPU");
      model = await l.loadModel({ modelPath: config.path, gpuLayers: 0 });
    }
    log.info(
      {
        model_id: config.id,
        bytes: file.bytes,
        gpu_layers: model.gpuLayers,
        arch: file.architecture,
      },
      "model loaded",
    );
    return {
      id: config.id,
      role: config.role,
      model,
      architecture: file.architecture,
      sha256: file.sha256,
      bytes: file.bytes,
      gpuLayers: model.gpuLayers,
    };
  }

  return {
    get llama() {
      if (!llama) throw new StoppedError("model manager not started");
      return llama;
    },
    async start() {
      llama = await getLlama({
        gpu: options.gpu ?? "auto",
        build: "never",
        logLevel: "error" as never,
        logger: (level, message) => {
          const text = message.trim();
          if (text) log.debug({ llama_level: String(level) }, text);
        },
      });
      log.info({ gpu: llama.gpu, cpu_cores: llama.cpuMathCores }, "llama.cpp ready");
      if (options.validateOnStart !== false) {
        for (const { config } of entries.values())
          await validateModelFile(
            config.path,
            config.role,
            config.sha256 ?? hashOfModelId(config.id),
          );
      }
    },
    async acquire(id) {
      if (stopped || !llama) throw new StoppedError("model manager is not running");
      const entry = entryOf(id);
      entry.users++;
      entry.lastUsed = ++clock;
      try {
        if (!entry.loaded) {
          if (!entry.loading) {
            const next = loadChain.then(() => load(entry));
            loadChain = next.catch(() => undefined);
            entry.loading = next;
          }
          const loading = entry.loading;
          try {
            entry.loaded = await loading;
          } finally {
            if (entry.loading === loading) entry.loading = undefined;
          }
        }
      } catch (e) {
        entry.users--;
        throw e;
      }
      let released = false;
      return {
        ...entry.loaded,
        release: () => {
          if (released) return;
          released = true;
          entry.users--;
          entry.lastUsed = ++clock;
        },
      };
    },
    config: (id) => entryOf(id).config,
    async compute() {
      const l = llama;
      if (!l) throw new StoppedError("model manager not started");
      const info: ComputeInfo = { gpu: l.gpu, cpuCores: l.cpuMathCores };
      if (l.gpu !== false) {
        const vram = await l.getVramState();
        info.vram = { total: vram.total, free: vram.free };
      }
      return info;
    },
    loadedIds: () =>
      [...entries.values()]
        .filter((e) => e.loaded)
        .sort((a, b) => a.lastUsed - b.lastUsed)
        .map((e) => e.config.id),
    async stop() {
      stopped = true;
      for (const e of entries.values()) {
        const model = e.loaded?.model;
        e.loaded = undefined;
        await model?.dispose();
      }
      await llama?.dispose();
    },
  };
}
