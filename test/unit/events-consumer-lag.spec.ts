import { ServiceBroker } from "moleculer";
import { ConsumerLag, EVENT_METRICS, registerEventMetrics } from "../../lib/events/metrics";

async function waitFor(check: () => boolean, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met before the deadline");
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}

describe("consumer-group lag gauge", () => {
  let broker: ServiceBroker;
  let lag: ConsumerLag | undefined;
  beforeEach(async () => {
    broker = new ServiceBroker({ logger: false, metrics: { enabled: true, reporter: [] } });
    registerEventMetrics(broker);
    await broker.start();
  });
  afterEach(async () => {
    lag?.stop();
    await broker.stop();
  });

  const gauge = () =>
    broker.metrics.getMetric(EVENT_METRICS.consumerAge)?.get({ service: "notify", group: "notify" })
      ?.value;

  it("when an event that occurred 30 s ago is handled, then the group's lag reads about 30 s", () => {
    lag = new ConsumerLag(broker, "notify", "notify", 60_000);
    expect(gauge()).toBe(0);
    lag.handled(new Date(Date.now() - 30_000).toISOString());
    expect(gauge()).toBeGreaterThanOrEqual(30);
    expect(gauge()).toBeLessThan(60);
  });

  it("when nothing is delivered for an idle period after a backlog, then the lag drops back to 0", async () => {
    lag = new ConsumerLag(broker, "notify", "notify", 100);
    lag.handled(new Date(Date.now() - 600_000).toISOString());
    expect(gauge()).toBeGreaterThanOrEqual(600);
    await waitFor(() => gauge() === 0, 10_000);
  });
});
