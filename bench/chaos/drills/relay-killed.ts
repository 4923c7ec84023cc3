import { Client } from "pg";
import { check, type Drill } from "../drill";
import { labChecks, startEventsLab } from "../events-lab";
import { startRelay, type RelayProcess } from "../relay-process";
import { sleep, waitFor } from "../util";

const EVENTS = 20_000;
/** The relay is killed once this many events are applied, each time inside the window. */
const KILL_AFTER = [3_000, 9_000, 15_000];
/** Drill 11: `kill -9` of the relay between the broker's confirm and the row marked sent. */
export const relayKilledDrill: Drill = {
  id: 11,
  name: "kill -9 of the relay between confirm and marking sent (3 times in 20 000 events)",
  async run({ cluster, log }) {
    const lab = await startEventsLab(cluster.databaseUrl, "killed");
    const schema = `${lab.group}_relay`;
    const env = {
      RELAY_SCHEMA: schema,
      RELAY_NAMESPACE: lab.namespace,
      RELAY_DATABASE_URL: cluster.databaseUrl,
      RELAY_AMQP_URL: lab.amqpUrl,
    };
    let relay: RelayProcess | undefined;
    let peakRssMb = 0;
    // Rows an earlier kill caught stay unsent until their lease runs out: each kill counts only
    // the rows it caught itself.
    const caughtBefore = new Set<string>();
    const inWindow = async () =>
      (
        await cluster.sql<{ id: string }>(
          `SELECT o.id FROM "${schema}".outbox o
            WHERE o.sent_at IS NULL
              AND EXISTS (SELECT 1 FROM "${lab.group}".effects e WHERE e.event_id = o.id)`,
        )
      )
        .map(row => row.id)
        .filter(id => !caughtBefore.has(id));
    const applied = async () =>
      Number(
        (await cluster.sql<{ n: string }>(`SELECT count(*) AS n FROM "${lab.group}".effects`))[0].n,
      );
    try {
      relay = await startRelay({ ...env, RELAY_EMIT: String(EVENTS) });
      const hits: number[] = [];
      const polls: number[] = [];
      const emitted: string[] = [];
      let kills = 0;
      for (const threshold of KILL_AFTER) {
        if (!(await waitFor(async () => (await applied()) >= threshold, 180_000, 100)))
          throw new Error(`fewer than ${threshold} events applied within 180 s`);
        // Hold the window open: a SHARE lock on the relay's outbox lets the relay publish and
        // the consumer apply, but blocks the UPDATE that marks rows sent. Once rows are applied
        // but unsent, the relay is killed; its blocked statements are then ended in the server
        // (a backend does not notice a dead client while it waits on a lock, and would otherwise
        // mark the rows after the kill). A lock taken while no batch was in flight catches
        // nothing: it is let go and taken again (at most 10 times per threshold).
        let caught = 0;
        for (let attempt = 0; caught === 0 && attempt < 10; attempt++) {
          const lock = new Client({ connectionString: cluster.databaseUrl });
          await lock.connect();
          try {
            await lock.query("BEGIN");
            await lock.query(`LOCK TABLE "${schema}".outbox IN SHARE MODE`);
            let tries = 0;
            const seen = await waitFor(
              async () => {
                tries++;
                return (await inWindow()).length > 0;
              },
              5_000,
              50,
            );
            polls.push(tries);
            if (!seen) continue;
            relay.child.kill("SIGKILL");
            kills++;
            await new Promise(resolve => relay?.child.once("exit", resolve));
            // Twice: a statement the dead relay had sent but its backend had not read yet
            // reaches the lock queue a moment later.
            for (const pause of [0, 500]) {
              await sleep(pause);
              await lock.query(
                `SELECT pg_terminate_backend(pid) FROM pg_locks
                  WHERE NOT granted AND relation = '"${schema}".outbox'::regclass`,
              );
            }
            const rows = await inWindow();
            for (const id of rows) caughtBefore.add(id);
            caught = rows.length;
          } finally {
            await lock.query("ROLLBACK").catch(() => undefined);
            await lock.end();
          }
          relay.stop();
          peakRssMb = Math.max(peakRssMb, relay.peakRssMb);
          hits.push(caught);
          log(`relay killed after ${threshold}+ applied: ${caught} rows applied but unsent`);
          // The new relay commits what the killed one had not committed yet.
          emitted.push(...relay.committed);
          relay = await startRelay({ ...env, RELAY_EMIT: String(EVENTS - emitted.length) });
        }
        if (caught === 0)
          throw new Error("the window between confirm and marking sent was never hit");
      }
      const last = relay;
      await waitFor(() => emitted.length + last.committed.length >= EVENTS, 120_000, 500);
      emitted.push(...last.committed);
      await waitFor(
        async () => {
          const f = await lab.figures(emitted);
          // The unsent rows that matter are the relay process's, not the lab's idle producer's.
          const [{ n }] = await cluster.sql<{ n: string }>(
            `SELECT count(*) AS n FROM "${schema}".outbox WHERE sent_at IS NULL`,
          );
          return f.lost === 0 && Number(n) === 0;
        },
        240_000,
        1000,
      );
      await sleep(2000);
      const f = await lab.figures(emitted);
      const [{ unsent }] = await cluster.sql<{ unsent: string }>(
        `SELECT count(*) AS unsent FROM "${schema}".outbox WHERE sent_at IS NULL`,
      );
      relay.child.kill("SIGKILL");
      relay.stop();
      peakRssMb = Math.max(peakRssMb, relay.peakRssMb);
      const [{ republished }] = await cluster.sql<{ republished: string }>(
        `SELECT count(*) AS republished FROM "${schema}".outbox WHERE attempts > 1`,
      );
      log(`outbox rows claimed more than once: ${republished}`);
      const figures = { ...f, unsent: Number(unsent), published: emitted.length };
      return {
        checks: [
          ...labChecks(figures, emitted.length, peakRssMb),
          check(
            "kills inside the window",
            hits.filter(n => n > 0).length,
            String(KILL_AFTER.length),
            hits.filter(n => n > 0).length === KILL_AFTER.length,
          ),
          check("kills", kills),
          check("rows applied but unsent at each kill", hits.join(", ")),
        ],
        notes: [
          `A producer node in its own process commits ${EVENTS} events and relays them; the harness's consumer node applies them. After ${KILL_AFTER.join(", ")} effects the harness takes a SHARE lock on the relay's outbox (publishing and consuming go on; the UPDATE that marks rows sent waits), polls for rows the consumer has applied but the relay has not marked sent, and sends SIGKILL the moment it sees one; it ends the dead relay's waiting statements in the server (twice, 500 ms apart), counts the caught rows, lets the lock go and starts a new relay process, which commits the events the killed one had not committed yet and publishes the caught rows again.`,
          "committed = ids the relay processes reported after each commit (a batch committed in the instant before a kill is not counted); published = committed, each at least once (the killed relays' counters die with them); duplicates delivered are the republished rows the consumer skipped as already handled. Producer RSS is the relay process's own (/proc VmRSS).",
        ],
        details: { figures, hits, polls },
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
