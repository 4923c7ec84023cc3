import type { ServiceBroker } from "moleculer";

/** Durable-event metrics, exported by the Prometheus reporter with dots as underscores. */
export const EVENT_METRICS = {
  published: "lingomesh.events.published.total",
  consumed: "lingomesh.events.consumed.total",
  duplicates: "lingomesh.events.duplicates.total",
  failed: "lingomesh.events.failed.total",
  deadLettered: "lingomesh.events.dead_lettered.total",
  backlog: "lingomesh.events.outbox.backlog",
  parked: "lingomesh.events.outbox.parked",
  consumerAge: "lingomesh.events.consumer.age.seconds",
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
  if (!metrics.getMetric(EVENT_METRICS.parked)) {
    metrics.register({
      name: EVENT_METRICS.parked,
      type: "gauge",
      labelNames: ["service"],
      description: "Outbox rows parked after too many failed publish attempts (alert on > 0)",
    });
  }
  if (!metrics.getMetric(EVENT_METRICS.consumerAge)) {
    metrics.register({
      name: EVENT_METRICS.consumerAge,
      type: "gauge",
      labelNames: ["service", "group"],
      description:
        "Seconds between an event's occurrence and its handling, for the last event a consumer group handled on this node (how far behind the group is)",
    });
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

export function setParked(broker: ServiceBroker, service: string, value: number): void {
  if (broker.isMetricsEnabled()) broker.metrics.set(EVENT_METRICS.parked, value, { service });
}

/**
 * A consumer group's lag as one node sees it: the age (now − occurredAt) of the event it last
 * handled, and 0 once a whole idle period passed without one. The broker pushes whatever is
 * ready up to the prefetch, so a consumer left without deliveries has caught up; without the
 * reset, the age of the last event of a drained backlog would stay and keep an HPA scaled out.
 */
export class ConsumerLag {
  private handledSinceCheck = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly broker: ServiceBroker,
    private readonly service: string,
    private readonly group: string,
    idleMs: number,
  ) {
    this.set(0);
    this.timer = setInterval(() => {
      if (!this.handledSinceCheck) this.set(0);
      this.handledSinceCheck = false;
    }, idleMs);
    this.timer.unref();
  }

  handled(occurredAt: string): void {
    this.handledSinceCheck = true;
    this.set(Math.max(0, (Date.now() - Date.parse(occurredAt)) / 1000));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private set(ageSeconds: number): void {
    if (this.broker.isMetricsEnabled())
      this.broker.metrics.set(EVENT_METRICS.consumerAge, ageSeconds, {
        service: this.service,
        group: this.group,
      });
  }
}
