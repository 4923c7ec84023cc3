import type { IncomingMessage, ServerResponse } from "node:http";
import { MetricReporters } from "moleculer";
import { sendHealth } from "./health";

/**
 * Moleculer's Prometheus reporter, plus /health/live and /health/ready on the same
 * listener (METRICS_PORT), so every node — gateway or not — can be probed by an
 * orchestrator without a second port.
 */
export class OpsReporter extends MetricReporters.Prometheus {
  constructor(opts: { port: number; path?: string }) {
    super({ path: "/metrics", ...opts });
  }

  override handler(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/health/live") return sendHealth(this.registry.broker, "live", res);
    if (path === "/health/ready") return sendHealth(this.registry.broker, "ready", res);
    super.handler(req, res);
  }
}
