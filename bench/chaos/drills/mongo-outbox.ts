import amqp from "amqplib";
import { ServiceBroker } from "moleculer";
import mongoose from "mongoose";
import { startFerretDb, type RunningFerretDb } from "../../../test/support/ferretdb";
import { SERVERS } from "../../../test/support/servers";
import type { AuthUser } from "../../../models/auth.model";
import { check, type Drill } from "../drill";
import { sleep, waitFor } from "../util";

const COURSES = 300;
/** The content node is killed once this many courses are published, while writes go on. */
const KILL_AFTER = [60, 140, 220];
const AUTHOR: AuthUser = { id: "00000000-0000-4000-8000-00000000d17a", roles: ["author"] };

/**
 * Drill 17: a content node on MongoDB (FerretDB on loopback, as in the test suite) publishes
 * courses while the harness kills it with SIGKILL three times; a new node takes over each
 * time. Every course MongoDB holds as published must have its `content.course.published`
 * event on RabbitMQ: the event rides in the same single-document write as the change
 * (lib/events/mongo-outbox-store.ts), so a node that dies between the write and the publish
 * leaves it for the next node's relay.
 */
export const mongoOutboxDrill: Drill = {
  id: 17,
  name: "kill -9 of a content node on MongoDB between its writes and their publish (3 times in 300 courses)",
  async run({ cluster, log }) {
    let ferret: RunningFerretDb | undefined;
    let broker: ServiceBroker | undefined;
    let connection: amqp.ChannelModel | undefined;
    const mongoSpec = { name: "content-mongo", services: ["content" as const], env: {} };
    const postgresContent = cluster.node("content").spec;
    try {
      ferret = await startFerretDb();
      const database = `${cluster.namespace.toLowerCase()}_content`;
      const uri = new URL(ferret.uri);
      uri.pathname = `/${database}`;
      mongoSpec.env = { CONTENT_MONGO_URI: uri.toString() };

      // What the relays publish, counted by course id, on a queue of the drill's own.
      connection = await amqp.connect(cluster.proxies.amqp!.urlFor(SERVERS.rabbitmq.url));
      const channel = await connection.createChannel();
      const exchange = `${cluster.namespace}.events`;
      await channel.assertExchange(exchange, "topic", { durable: true });
      const { queue } = await channel.assertQueue("", { exclusive: true });
      await channel.bindQueue(queue, exchange, "content.course.published");
      const deliveries = new Map<string, number>();
      await channel.consume(queue, msg => {
        if (!msg) return;
        const envelope = JSON.parse(msg.content.toString()) as { data: { courseId: string } };
        const id = envelope.data.courseId;
        deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
        channel.ack(msg);
      });

      // The cluster's content node (on PostgreSQL) steps aside for one on MongoDB.
      await cluster.kill("content", "SIGTERM");
      await cluster.startNode(mongoSpec);
      broker = new ServiceBroker({
        namespace: cluster.namespace,
        nodeID: `${cluster.namespace}-drill17`,
        transporter: {
          type: "NATS",
          options: { url: cluster.proxies.nats!.urlFor(SERVERS.nats.url) },
        },
        logger: false,
      });
      await broker.start();
      const caller = broker;
      await caller.waitForServices(["content"], 30_000);

      let published = 0;
      let failedWrites = 0;
      const pendingAtKill: number[] = [];
      let kills = 0;
      const writing = (async () => {
        while (published < COURSES) {
          try {
            const meta = { user: AUTHOR };
            const course = await caller.call<{ id: string }, Record<string, unknown>>(
              "content.createCourse",
              { title: `Drill ${published}`, description: "", language: "en", level: "A1" },
              { meta },
            );
            await caller.call(
              "content.createLesson",
              { id: course.id, title: "Only", kind: "lesson", body: "Hello" },
              { meta },
            );
            await caller.call("content.publishCourse", { id: course.id }, { meta });
            published++;
          } catch {
            // The node is down or was killed mid-call: what it wrote is counted from MongoDB.
            failedWrites++;
            await sleep(200);
          }
        }
      })();

      const mongo = await mongoose.createConnection(uri.toString()).asPromise();
      const courses = mongo.collection("courses");
      // The documents that carry events (services/content/mongo-repository.ts outbox()).
      const carriers = [mongo.collection("published_courses"), mongo.collection("lessons")];
      const withPending = async () => {
        let total = 0;
        for (const carrier of carriers)
          total += await carrier.countDocuments({ "outboxPending.0": { $exists: true } });
        return total;
      };
      try {
        for (const threshold of KILL_AFTER) {
          if (!(await waitFor(() => published >= threshold, 180_000, 50)))
            throw new Error(`fewer than ${threshold} courses published within 180 s`);
          // Kill the moment a document holds events its relay has not published yet. The
          // relay may publish them between the poll and the kill: such a kill missed the
          // window and is tried again (at most 10 times per threshold).
          let caught = 0;
          for (let attempt = 0; caught === 0 && attempt < 10; attempt++) {
            const deadline = Date.now() + 30_000;
            while (Date.now() < deadline && (await withPending()) === 0);
            await cluster.kill(mongoSpec.name, "SIGKILL");
            kills++;
            caught = await withPending();
            pendingAtKill.push(caught);
            log(
              `content node killed after ${threshold}+ courses: ${caught} documents with unpublished events`,
            );
            await cluster.startNode(mongoSpec);
          }
          if (caught === 0) throw new Error("the window between write and publish was never hit");
        }
        await writing;
        const publishedIds = async () =>
          (await courses.find({ status: "published" }, { projection: { _id: 1 } }).toArray()).map(
            doc => String(doc._id),
          );
        await waitFor(
          async () =>
            (await publishedIds()).every(id => deliveries.has(id)) && (await withPending()) === 0,
          120_000,
          500,
        );
        await sleep(1000);
        const inMongo = await publishedIds();
        const lost = inMongo.filter(id => !deliveries.has(id)).length;
        const repeats = [...deliveries.values()].reduce((sum, n) => sum + n - 1, 0);
        const leftPending = await withPending();
        for (const carrier of carriers) {
          const stuck = await carrier
            .find({ "outboxPending.0": { $exists: true } })
            .project({
              outboxPending: 1,
              outboxLeaseUntil: 1,
              outboxAttempts: 1,
              outboxLastError: 1,
            })
            .toArray();
          for (const doc of stuck)
            log(`still unpublished in ${carrier.collectionName}: ${JSON.stringify(doc)}`);
        }
        return {
          checks: [
            check("courses published (in MongoDB)", inMongo.length),
            check("lost (published, no event)", lost, "0", lost === 0),
            check("events delivered more than once", repeats),
            check(
              "documents with unpublished events at the end",
              leftPending,
              "0",
              leftPending === 0,
            ),
            check(
              "kills inside the window",
              pendingAtKill.filter(n => n > 0).length,
              String(KILL_AFTER.length),
              pendingAtKill.filter(n => n > 0).length === KILL_AFTER.length,
            ),
            check("kills", kills),
            check("documents with unpublished events at each kill", pendingAtKill.join(", ")),
            check("writes that failed while the node was down", failedWrites),
          ],
          notes: [
            `The cluster's content node (PostgreSQL) is stopped and a content node on MongoDB (FerretDB over PostgreSQL, started by the drill) takes its place. The harness creates, fills and publishes ${COURSES} courses through the broker and after ${KILL_AFTER.join(", ")} published polls MongoDB for a document holding events not yet published and SIGKILLs the node the moment it sees one (a kill that finds none left missed the window and is tried again), starting a new node each time; a queue of the drill's own counts the content.course.published events. Lost = courses MongoDB holds as published with no event; a write that failed with the node is retried as a new course, so only what MongoDB kept counts.`,
          ],
          details: { pendingAtKill, failedWrites, repeats },
        };
      } finally {
        await mongo.close(true);
      }
    } finally {
      await broker?.stop().catch(() => undefined);
      await connection?.close().catch(() => undefined);
      if (cluster.nodes.has(mongoSpec.name))
        await cluster.kill(mongoSpec.name, "SIGTERM").catch(() => undefined);
      await cluster.startNode(postgresContent);
      await ferret?.stop();
    }
  },
};
