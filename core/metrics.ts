import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * One registry per hub (not prom-client's global one), so several hubs in one
 * test process do not collide. Process metrics plus the HTTP layer's own.
 */
export function createMetrics(): { registry: Registry; http: HttpMetrics } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "simhive_" });
  return { registry, http: createHttpMetrics(registry) };
}

export interface HttpMetrics {
  requests: Counter<"method" | "status">;
  duration: Histogram<"method">;
}

function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    requests: new Counter({ name: "simhive_http_requests_total", help: "HTTP requests by method and status", labelNames: ["method", "status"], registers: [registry] }),
    duration: new Histogram({
      name: "simhive_http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 10],
      registers: [registry],
    }),
  };
}

/** A gauge whose value is read when /metrics is scraped. */
export function gaugeFrom(registry: Registry, name: string, help: string, read: () => number | Promise<number>): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      this.set(await read());
    },
  });
}

/** A metric registered once per registry (a plugin restarted in the same process reuses it). */
export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  collect?: (this: Gauge<L>) => void,
): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
}
