import type { IncomingMessage, ServerResponse } from "node:http";
import { MetricReporters, type ServiceBroker } from "moleculer";
import { readiness } from "./health";

interface PrometheusReporterShape {
  registry: { broker: ServiceBroker };
  generatePrometheusResponse(): string;
}
type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const PrometheusReporter = MetricReporters.Prometheus as unknown as new (
  opts?: object,
) => PrometheusReporterShape;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
  });
  res.end(JSON.stringify(body));
}

/**
 * Moleculer's Prometheus reporter, plus /health/live and /health/ready on the same
 * listener (METRICS_PORT), so every node — gateway or not — can be probed by an
 * orchestrator without a second port.
 */
export class OpsReporter extends PrometheusReporter {
  constructor(opts: { port: number; path?: string }) {
    super({ path: "/metrics", ...opts });
    const prometheusHandler = (this as unknown as { handler: RequestHandler }).handler.bind(this);
    (this as unknown as { handler: RequestHandler }).handler = (req, res) => {
      const path = (req.url ?? "").split("?")[0];
      if (path === "/health/live") return sendJson(res, 200, { status: "ok" });
      if (path === "/health/ready") {
        readiness(this.registry.broker).then(
          report => sendJson(res, report.status === "ok" ? 200 : 503, report),
          () => sendJson(res, 503, { status: "fail", checks: {} }),
        );
        return;
      }
      prometheusHandler(req, res);
    };
  }
}

/** The node's own metrics in Prometheus text format (the gateway serves them on /metrics too). */
export function prometheusText(broker: ServiceBroker): string | undefined {
  const reporters = (broker.metrics as unknown as { reporter?: unknown[] }).reporter ?? [];
  const ops = reporters.find(
    (reporter): reporter is OpsReporter => reporter instanceof OpsReporter,
  );
  return ops?.generatePrometheusResponse();
}
