import type { ServiceBroker } from "moleculer";

const HTTP_REQUESTS = "lingomesh.gateway.requests.total";
const HTTP_DURATION = "lingomesh.gateway.request.duration";

export function registerGatewayMetrics(broker: ServiceBroker): void {
  if (!broker.isMetricsEnabled()) return;
  if (!broker.metrics.getMetric(HTTP_REQUESTS)) {
    broker.metrics.register({
      name: HTTP_REQUESTS,
      type: "counter",
      labelNames: ["method", "route", "status"],
      description: "HTTP requests answered by the gateway",
    });
  }
  if (!broker.metrics.getMetric(HTTP_DURATION)) {
    broker.metrics.register({
      name: HTTP_DURATION,
      type: "histogram",
      labelNames: ["method", "route", "status"],
      unit: "milliseconds",
      buckets: [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      description: "Time to answer an HTTP request at the gateway",
    });
  }
}

export function recordRequest(
  broker: ServiceBroker,
  labels: { method: string; route: string; status: number },
  durationMs: number,
): void {
  if (!broker.isMetricsEnabled()) return;
  broker.metrics.increment(HTTP_REQUESTS, labels);
  broker.metrics.observe(HTTP_DURATION, durationMs, labels);
}
