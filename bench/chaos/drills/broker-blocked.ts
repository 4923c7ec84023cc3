import { check, type Drill } from "../drill";
import { currentMemoryWatermark, labChecks, rabbitmqctl, startEventsLab } from "../events-lab";
import { startRelay, type RelayProcess } from "../relay-process";
import { round, sleep, waitFor } from "../util";

const EVENTS = 5_000;
const BLOCKED_MS = 15_000;

/**
 * Drill 9: the broker blocked (memory alarm) for 15 s while 5 000 events are committed.
 * The producer first commits and relays a round of 5 000 events with the broker free: a
 * cold process grows ~33 MB on its first 5 000 commits whether or not the broker is
 * blocked (V8 touching heap pages for the first time), which is not what the drill is
 * about. Its RSS growth is measured from that warm state.
 */
export const brokerBlockedDrill: Drill = {
  id: 9,
  name: "RabbitMQ blocked by a memory alarm for 15 s while 5 000 events are committed",
  async run({ cluster, log }) {
    const lab = await startEventsLab(cluster.databaseUrl, "blocked");
    const schema = `${lab.group}_relay`;
    let relay: RelayProcess | undefined;
    try {
      relay = await startRelay({
        RELAY_SCHEMA: schema,
        RELAY_NAMESPACE: lab.namespace,
        RELAY_DATABASE_URL: cluster.databaseUrl,
        RELAY_AMQP_URL: lab.amqpUrl,
        RELAY_EMIT: String(EVENTS),
        RELAY_EMIT_SPREAD_MS: String(BLOCKED_MS),
        RELAY_EMIT_ON_SIGNAL: "1",
        RELAY_WARM_UP: String(EVENTS),
      });
      const outboxIds = async () =>
        (await cluster.sql<{ id: string }>(`SELECT id FROM "${schema}".outbox`)).map(r => r.id);
      const warmUp = new Set(await outboxIds());
      await waitFor(async () => (await lab.figures([...warmUp])).lost === 0, 120_000, 500);
      log(`warm-up: ${warmUp.size} events committed and relayed with the broker free`);
      const base = await lab.figures([]);
      await sleep(2000);
      const warmUpPeak = relay.peakRssMb;
      const rssBefore = relay.rssMb;
      // From here the peak is the blocked round's own.
      relay.peakRssMb = rssBefore;
      const watermark = await currentMemoryWatermark();
      log(
        `memory watermark now ${watermark.join(" ")}; setting 0.0000001 for ${BLOCKED_MS / 1000} s`,
      );
      const consumedBefore = base.consumed;
      let blockedMs = 0;
      let consumedWhileBlocked = 0;
      let peakWhileBlocked = 0;
      try {
        await rabbitmqctl("set_vm_memory_high_watermark", "0.0000001");
        const blockedAt = Date.now();
        relay.child.kill("SIGUSR2");
        await sleep(BLOCKED_MS);
        blockedMs = Date.now() - blockedAt;
        peakWhileBlocked = relay.peakRssMb;
        consumedWhileBlocked = (await lab.figures([])).consumed - consumedBefore;
      } finally {
        await rabbitmqctl("set_vm_memory_high_watermark", ...watermark);
        log(`memory watermark restored to ${watermark.join(" ")}`);
      }
      const ids = async () => (await outboxIds()).filter(id => !warmUp.has(id));
      await waitFor(
        async () => {
          const f = await lab.figures(await ids());
          return f.lost === 0 && (await ids()).length === EVENTS;
        },
        180_000,
        1000,
      );
      // Every row delivered is marked sent once its confirm is in: wait for that too (bounded).
      const unsentRows = async () =>
        (
          await cluster.sql<{ id: string }>(
            `SELECT id FROM "${schema}".outbox WHERE sent_at IS NULL`,
          )
        ).map(r => r.id);
      const allConsumedAt = Date.now();
      const marked = await waitFor(async () => (await unsentRows()).length === 0, 60_000, 500);
      const stillUnsent = await unsentRows();
      log(
        marked
          ? `every row marked sent ${Date.now() - allConsumedAt} ms after the last event was consumed`
          : `${stillUnsent.length} rows still unsent 60 s after the last event was consumed (${stillUnsent.filter(id => warmUp.has(id)).length} of the warm-up)`,
      );
      await sleep(2000);
      const emitted = await ids();
      const total = await lab.figures(emitted);
      // The warm-up's deliveries are not this drill's.
      const f = {
        ...total,
        consumed: total.consumed - base.consumed,
        duplicatesDelivered: total.duplicatesDelivered - base.duplicatesDelivered,
      };
      const unsent = (await unsentRows()).length;
      // Published counts every delivery the broker took: the applied ones and the duplicates.
      const published = f.consumed + f.duplicatesDelivered;
      const figures = { ...f, published, unsent };
      const duplicatePct = round((100 * (published - emitted.length)) / emitted.length);
      const growth = round(relay.peakRssMb - rssBefore, 1);
      return {
        checks: [
          ...labChecks(figures, emitted.length, relay.peakRssMb),
          check("broker blocked for", blockedMs, undefined, undefined, "ms"),
          check("events consumed while blocked", consumedWhileBlocked),
          check("duplicate publishes", duplicatePct, "< 1 %", duplicatePct < 1, "%"),
          check("producer RSS growth", growth, "< 30 MB", growth < 30, "MB"),
          check(
            "of which while blocked",
            round(peakWhileBlocked - rssBefore, 1),
            undefined,
            undefined,
            "MB",
          ),
          check("producer peak RSS during the warm-up", warmUpPeak, undefined, undefined, "MB"),
          check("producer RSS before the alarm (warm)", rssBefore, undefined, undefined, "MB"),
        ],
        notes: [
          `A producer node in its own process (bench/chaos/relay-node.ts) relays its outbox; \`rabbitmqctl set_vm_memory_high_watermark 0.0000001\` raises RabbitMQ's memory alarm (it blocks every publishing connection) and the producer then commits ${EVENTS} events in 20 transactions spread over ${BLOCKED_MS / 1000} s; then the watermark read from \`rabbitmqctl environment\` beforehand (${watermark.join(" ")}) is set again in a finally.`,
          `Before the alarm the producer committed and relayed ${EVENTS} events with the broker free (warm-up, not counted in the figures): a cold producer process grew ~33 MB on its first ${EVENTS} commits with or without an alarm (measured both ways), the heap's first use rather than the blocked broker's doing.`,
          "published = deliveries that reached the consumer (handled + skipped as duplicates); duplicate publishes are those beyond one per event. RSS is the producer process's (/proc VmRSS): growth is its peak minus its RSS just before the alarm.",
        ],
        details: { figures, watermark, rssBefore, warmUpPeak, warmUp: warmUp.size },
      };
    } finally {
      if (relay) {
        relay.child.kill("SIGKILL");
        relay.stop();
      }
      await lab.stop();
    }
  },
};
