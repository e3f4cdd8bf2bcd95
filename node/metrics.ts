/**
 * The node's Prometheus metrics (prom-client), served as text at GET /metrics. Each node
 * owns its registry, so several nodes in one process (tests, benchmarks) keep separate
 * counts. Label values are bounded: model ids come from the node's config, transports and
 * outcomes from fixed sets.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface NodeMetrics {
  readonly registry: Registry;
  readonly requests: Counter<"transport" | "model" | "outcome">;
  readonly tokens: Counter<"model" | "kind">;
  readonly duration: Histogram<"transport" | "model">;
  readonly firstToken: Histogram<"transport" | "model">;
  readonly jobs: Counter<"outcome">;
  /** Called at each scrape to fill the load gauges. */
  setLoadSource: (source: () => Record<string, { running: number; queued: number }>) => void;
}

export function createNodeMetrics(): NodeMetrics {
  const registry = new Registry();
  let loadSource: () => Record<string, { running: number; queued: number }> = () => ({});
  const requests = new Counter({
    name: "fabstir_requests_total",
    help: "Inference requests by transport, model and outcome (ok or an error code).",
    labelNames: ["transport", "model", "outcome"] as const,
    registers: [registry],
  });
  const tokens = new Counter({
    name: "fabstir_tokens_total",
    help: "Tokens billed, by model and kind (prompt, completion, cached_completion).",
    labelNames: ["model", "kind"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "fabstir_request_duration_seconds",
    help: "Time from a request's arrival to its last token.",
    labelNames: ["transport", "model"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const firstToken = new Histogram({
    name: "fabstir_time_to_first_token_seconds",
    help: "Time from a request's arrival to its first streamed token.",
    labelNames: ["transport", "model"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const jobs = new Counter({
    name: "fabstir_jobs_total",
    help: "Marketplace jobs by outcome (claimed, completed, refused, given_up, failed).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "fabstir_engine_running",
    help: "Requests generating now, by model.",
    labelNames: ["model"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [model, s] of Object.entries(loadSource())) this.set({ model }, s.running);
    },
  });
  new Gauge({
    name: "fabstir_engine_queued",
    help: "Requests waiting for a slot, by model.",
    labelNames: ["model"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [model, s] of Object.entries(loadSource())) this.set({ model }, s.queued);
    },
  });
  return {
    registry,
    requests,
    tokens,
    duration,
    firstToken,
    jobs,
    setLoadSource: (source) => {
      loadSource = source;
    },
  };
}
