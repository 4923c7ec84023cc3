import type { ServiceBroker } from "moleculer";

/** Durable-event metrics, exported by the Prometheus reporter with dots as underscores. */
export const EVENT_METRICS = {
  published: "lingomesh.events.published.total",
  consumed: "lingomesh.events.consumed.total",
  duplicates: "lingomesh.events.duplicates.total",
  failed: "lingomesh.events.failed.total",
  deadLettered: "lingomesh.events.dead_lettered.total",
  backlog: "lingomesh.events.outbox.backlog",
} as const;

export function registerEventMetrics(broker: ServiceBroker): void {
  const metrics = broker.metrics;
  if (!broker.isMetricsEnabled()) return;
  const counters: Array<[string, string]> = [
    [EVENT_METRICS.published, "Durable events published from the outbox (confirmed by the broker)"],
    [EVENT_METRICS.consumed, "Durable events handled by a consumer"],
    [EVENT_METRICS.duplicates, "Redelivered durable events skipped because already handled"],
    [EVENT_METRICS.failed, "Failed handling attempts of durable events (each retry counts)"],
    [EVENT_METRICS.deadLettered, "Durable events moved to the dead-letter queue"],
  ];
  for (const [name, description] of counters) {
    if (!metrics.getMetric(name)) {
      metrics.register({
        name,
        type: "counter",
        labelNames: ["service", "type"],
        description,
        rate: false,
      });
    }
  }
  if (!metrics.getMetric(EVENT_METRICS.backlog)) {
    metrics.register({
      name: EVENT_METRICS.backlog,
      type: "gauge",
      labelNames: ["service"],
      description: "Committed durable events not yet published (outbox rows unsent)",
    });
  }
}

export function countEvent(
  broker: ServiceBroker,
  name: string,
  service: string,
  type: string,
): void {
  if (broker.isMetricsEnabled()) broker.metrics.increment(name, { service, type });
}

export function setBacklog(broker: ServiceBroker, service: string, value: number): void {
  if (broker.isMetricsEnabled()) broker.metrics.set(EVENT_METRICS.backlog, value, { service });
}
