import {
  emitNamedUserCreated,
  producerService,
  serviceOf,
  startEventsNode,
} from "../../test/integration/events.helpers";

/**
 * A producer node in a process of its own, for drill 11 to `kill -9`: it relays its outbox
 * and, when RELAY_EMIT > 0, commits that many `user.created` events (500 a transaction, or 20
 * transactions spread over RELAY_EMIT_SPREAD_MS), at once or on SIGUSR2 (RELAY_EMIT_ON_SIGNAL).
 * RELAY_WARM_UP > 0 commits that many first, in 250-event transactions, before it is ready
 * (a producer that has done the work once: its heap is in use, not first touched).
 * Prints "ready" once started and "emitted" once its events are committed.
 */
async function main(): Promise<void> {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const schema = env("RELAY_SCHEMA");
  const broker = await startEventsNode({
    namespace: env("RELAY_NAMESPACE"),
    nodeID: `relay-${process.pid}`,
    databaseUrl: env("RELAY_DATABASE_URL"),
    amqpUrl: env("RELAY_AMQP_URL"),
    services: [producerService(schema)],
  });
  const warmUp = Number(process.env.RELAY_WARM_UP ?? "0");
  for (let done = 0; done < warmUp; done += 250) {
    const names = Array.from({ length: Math.min(250, warmUp - done) }, (_, i) => `w-${done + i}`);
    await emitNamedUserCreated(serviceOf(broker, schema), names);
  }
  console.log("ready");
  const count = Number(process.env.RELAY_EMIT ?? "0");
  const spreadMs = Number(process.env.RELAY_EMIT_SPREAD_MS ?? "0");
  if (process.env.RELAY_EMIT_ON_SIGNAL)
    await new Promise(resolve => process.once("SIGUSR2", resolve));
  const producer = serviceOf(broker, schema);
  const batch = spreadMs > 0 ? Math.ceil(count / 20) : 500;
  const started = Date.now();
  for (let done = 0, slice = 1; done < count; done += batch, slice++) {
    const names = Array.from({ length: Math.min(batch, count - done) }, (_, i) => `k-${done + i}`);
    const committed = await emitNamedUserCreated(producer, names);
    // The harness keeps the ids: sent rows are pruned from the outbox after a while.
    console.log(`committed ${committed.map(e => e.id).join(",")}`);
    // Spread commits over the window: the relay sees them pass after pass.
    if (spreadMs > 0)
      await new Promise(r =>
        setTimeout(r, Math.max(0, started + (slice * spreadMs) / 20 - Date.now())),
      );
  }
  console.log("emitted");
  process.once("SIGTERM", () => void broker.stop().then(() => process.exit(0)));
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
