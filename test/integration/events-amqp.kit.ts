import type { ServiceBroker } from "moleculer";
import { SERVERS } from "../support/servers";
import { createTestDatabase, uniqueName, type TestDatabase } from "../support/isolation";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";
import { deleteTopology, FAST, startEventsNode } from "./events.helpers";

/**
 * The set-up the durable-event suites on the real RabbitMQ share: a database of the suite's
 * own, and per test its nodes, TCP proxies and AMQP topology (a namespace of its own), all
 * stopped and deleted after each test.
 */

export const AMQP = SERVERS.rabbitmq.url;

/** The retry settings of FAST, in the shape topologyNames takes. */
export const RETRY = {
  maxAttempts: FAST.maxAttempts!,
  baseDelayMs: FAST.retryBaseDelayMs!,
  maxDelayMs: FAST.retryMaxDelayMs!,
};

type Services = Parameters<typeof startEventsNode>[0]["services"];

export interface AmqpEventsKit {
  /** Starts a node on the suite's database; it is stopped after the test. */
  node(
    nodeID: string,
    namespace: string,
    services: Services,
    amqpUrl?: string,
  ): Promise<ServiceBroker>;
  /** A namespace of the test's own; its queues of these groups are deleted after the test. */
  isolate(groups: string[]): string;
  /** A TCP proxy in front of RabbitMQ, to cut a node's link; closed after the test. */
  proxy(): Promise<TcpProxy>;
  /** Runs after the test (e.g. closes a connection the test opened). */
  afterTest(fn: () => Promise<void>): void;
  /** A node the test stopped itself: not stopped again. */
  forget(broker: ServiceBroker): void;
}

/** Registers the suite's hooks; call it at the top of a spec file. */
export function amqpEventsKit(databasePrefix: string, namespacePrefix: string): AmqpEventsKit {
  let db: TestDatabase | undefined;
  let brokers: ServiceBroker[] = [];
  let cleanup: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    db = await createTestDatabase(databasePrefix);
  });
  afterEach(async () => {
    await Promise.allSettled(brokers.map(broker => broker.stop()));
    for (const fn of cleanup) await fn().catch(() => undefined);
    brokers = [];
    cleanup = [];
  });
  afterAll(async () => {
    await db?.drop();
  });

  return {
    async node(nodeID, namespace, services, amqpUrl = AMQP) {
      if (!db) throw new Error("the suite's database is not ready (call node() inside a test)");
      const broker = await startEventsNode({
        namespace,
        nodeID,
        databaseUrl: db.url,
        amqpUrl,
        services,
      });
      brokers.push(broker);
      return broker;
    },
    isolate(groups) {
      const namespace = uniqueName(namespacePrefix);
      cleanup.push(() => deleteTopology(AMQP, namespace, groups));
      return namespace;
    },
    async proxy() {
      const p = await startTcpProxy({ port: Number(new URL(AMQP).port) || 5672 });
      cleanup.push(() => p.close());
      return p;
    },
    afterTest(fn) {
      cleanup.push(fn);
    },
    forget(broker) {
      brokers = brokers.filter(b => b !== broker);
    },
  };
}
