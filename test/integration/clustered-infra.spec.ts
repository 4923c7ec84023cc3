import { ServiceBroker, type Context } from "moleculer";
import type Redis from "ioredis";
import { createRedis } from "../../lib/redis";
import { brokerOptions } from "../../moleculer.config";
import { NatsCluster, RedisSentinelGroup } from "../support/clustered-servers";
import { testConfig, uniqueName } from "../support/isolation";

/**
 * Lingomesh nodes on clustered infrastructure of their own (test/support/clustered-servers.ts):
 * a three-server NATS cluster one of whose servers is killed, and a Redis primary that dies
 * and is replaced by its replica through Sentinel. `npm run chaos` (drills 8 and 9) measures
 * how fast under traffic; these prove the behaviour.
 */

const waitUntil = async (check: () => Promise<boolean> | boolean, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return true;
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return false;
};

/** What a Redis client went through, for a failure message: its last 40 events and errors. */
function clientEvents(redis: Redis): string[] {
  const seen: string[] = [];
  const started = Date.now();
  const note = (what: string) => {
    seen.push(`${Date.now() - started} ms ${what}`);
    if (seen.length > 40) seen.shift();
  };
  for (const event of ["connect", "ready", "close", "reconnecting", "end"])
    redis.on(event, () => note(event));
  redis.on("error", (err: Error) => note(`error ${err.message}`));
  return seen;
}

describe("two nodes on a three-server NATS cluster", () => {
  const namespace = uniqueName("natscluster");
  const nats = new NatsCluster(3);
  let caller: ServiceBroker;
  let callee: ServiceBroker;
  const forgotten: string[] = [];

  function node(name: string): ServiceBroker {
    return new ServiceBroker({
      ...brokerOptions(
        testConfig({
          NAMESPACE: namespace,
          TRANSPORTER: nats.transporterUrl,
          NODE_ID: `${namespace}-${name}`,
          SERVICES: "",
        }),
      ),
    });
  }

  beforeAll(async () => {
    await nats.start();
    caller = node("caller");
    callee = node("callee");
    callee.createService({
      name: "echo",
      actions: {
        say: (ctx: Context<{ word: string }>) => ({ word: ctx.params.word, by: ctx.nodeID }),
      },
    });
    caller.localBus.on("$node.disconnected", (payload: { node: { id: string } }) => {
      forgotten.push(payload.node.id);
    });
    await Promise.all([caller.start(), callee.start()]);
    await caller.waitForServices("echo", 20_000);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([caller?.stop(), callee?.stop()]);
    await nats.stop();
  });

  test("when the NATS server the caller is on is killed, then it moves to another server, keeps knowing the callee and its calls succeed again", async () => {
    expect(await caller.call("echo.say", { word: "before" })).toMatchObject({ word: "before" });
    const before = await nats.serverOf(caller.nodeID);
    expect(before).toBeDefined();
    await nats.kill(before ?? 0);

    expect(await waitUntil(async () => (await nats.serverOf(caller.nodeID)) !== undefined)).toBe(
      true,
    );
    const after = await nats.serverOf(caller.nodeID);
    expect(after).not.toBe(before);
    expect(
      await waitUntil(async () => {
        const reply = await caller.call("echo.say", { word: "after" });
        return (reply as { word: string }).word === "after";
      }),
    ).toBe(true);
    // The callee was never dropped from the caller's registry: no rediscovery was needed.
    expect(forgotten).toEqual([]);
    expect(caller.registry.nodes.get(callee.nodeID)?.available).toBe(true);
  }, 60_000);

  test("when the killed server is back and another one is killed, then calls succeed once more", async () => {
    const down = nats.nodes.findIndex(server => !nats.running(server.index));
    await nats.startNode(down);
    await nats.waitForRoutes();
    const current = await nats.serverOf(callee.nodeID);
    await nats.kill(current ?? 0);
    expect(
      await waitUntil(async () => {
        const reply = await caller.call("echo.say", { word: "again" }, { timeout: 2000 });
        return (reply as { word: string }).word === "again";
      }),
    ).toBe(true);
    expect(forgotten).toEqual([]);
  }, 60_000);
});

describe("Redis behind Sentinel when the primary dies", () => {
  const sentinel = new RedisSentinelGroup();
  const namespace = uniqueName("sentinel");

  beforeAll(async () => {
    await sentinel.start();
  }, 90_000);

  // Each test starts with both data nodes up, whatever the one before left behind.
  beforeEach(async () => {
    await sentinel.restoreAll();
  }, 60_000);

  afterAll(async () => {
    await sentinel.stop();
  });

  test("when the primary is killed, then the client follows the promoted replica with its data, and writes keep working once the old primary is back as a replica", async () => {
    const redis = createRedis(sentinel.url);
    try {
      await redis.zadd(`${namespace}:board`, 42, "learner-1");
      // The replica has it before the primary dies (replication is asynchronous).
      expect(await redis.wait(1, 5000)).toBe(1);
      const { killed, promoted } = await sentinel.killPrimary();
      expect(promoted).not.toBe(killed);

      const seen = clientEvents(redis);
      const followed = await waitUntil(
        async () => (await redis.zincrby(`${namespace}:board`, 1, "learner-1")) !== "",
        60_000,
      );
      if (!followed)
        throw new Error(`the client never reached ${promoted}; it saw:\n${seen.join("\n")}`);
      expect(Number(await redis.zscore(`${namespace}:board`, "learner-1"))).toBeGreaterThanOrEqual(
        43,
      );
      expect(
        await sentinel.onPrimary(client => client.zscore(`${namespace}:board`, "learner-1")),
      ).not.toBeNull();

      await sentinel.restartAsReplica(killed);
      await redis.set(`${namespace}:after`, "written");
      expect(await sentinel.onPrimary(client => client.get(`${namespace}:after`))).toBe("written");
    } finally {
      redis.disconnect();
    }
  }, 180_000);

  test("when the cacher uses the Sentinel form, then a cached action is cached on the primary and again after a failover", async () => {
    const broker = new ServiceBroker({
      ...brokerOptions(testConfig({ NAMESPACE: namespace, CACHER: sentinel.url, SERVICES: "" })),
      nodeID: `${namespace}-cacher`,
    });
    let handled = 0;
    broker.createService({
      name: "catalogue",
      actions: {
        read: {
          cache: { keys: ["id"] },
          handler(ctx: Context<{ id: string }>) {
            handled++;
            return { id: ctx.params.id };
          },
        },
      },
    });
    await broker.start();
    try {
      await waitUntil(() => (broker.cacher as unknown as { connected: boolean }).connected);
      await broker.call("catalogue.read", { id: "a" });
      await broker.call("catalogue.read", { id: "a" });
      expect(handled).toBe(1);
      await sentinel.killPrimary();
      // Fails open during the failover (both calls run the handler), cached on the new primary after.
      let round = 0;
      expect(
        await waitUntil(async () => {
          const before = handled;
          const id = `b${round++}`;
          await broker.call("catalogue.read", { id });
          await broker.call("catalogue.read", { id });
          return handled === before + 1;
        }, 60_000),
      ).toBe(true);
      const keys = await sentinel.onPrimary(client => client.keys(`${namespace}:cache*`));
      expect(keys.some(key => key.includes("catalogue.read"))).toBe(true);
    } finally {
      await broker.stop();
    }
  }, 180_000);
});
