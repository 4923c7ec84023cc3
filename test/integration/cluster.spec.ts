import path from "node:path";
import { ServiceBroker } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { SERVERS, requireServers } from "../support/servers";
import { testConfig, uniqueName } from "../support/isolation";
import { startNodeProcess, waitForOutput, type NodeProcess } from "../support/node-process";

const ECHO_NODE = path.join(__dirname, "../support/fixtures/echo-node.ts");

/** An echo node in a process of its own, once it prints READY. */
async function echoNode(env: Record<string, string>): Promise<NodeProcess> {
  const node = startNodeProcess(ECHO_NODE, { env });
  await waitForOutput(node, "READY", `echo node ${env.NODE_ID}`, 20_000);
  return node;
}

describe("a cluster over real NATS", () => {
  const namespace = uniqueName("cluster");
  const env = { NAMESPACE: namespace, TRANSPORTER: SERVERS.nats.url };
  let caller: ServiceBroker;
  const nodes: NodeProcess[] = [];

  beforeAll(async () => {
    await requireServers("nats");
    caller = new ServiceBroker({
      ...brokerOptions(testConfig({ ...env, SERVICES: "" })),
      nodeID: `${namespace}-caller`,
    });
    await caller.start();
    nodes.push(await echoNode({ ...env, NODE_ID: `${namespace}-a` }));
    nodes.push(await echoNode({ ...env, NODE_ID: `${namespace}-b` }));
    await caller.waitForServices("echo", 10_000);
    // Both endpoints known before measuring balance.
    const deadline = Date.now() + 10_000;
    while (
      caller.registry.getActionEndpoints("echo.whoami")?.count() !== 2 &&
      Date.now() < deadline
    ) {
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }, 60_000);

  afterAll(async () => {
    for (const node of nodes) node.child.kill("SIGKILL");
    await caller?.stop();
  });

  it("when calls are made, then both nodes of the service answer a share of them", async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => caller.call<{ nodeID: string }>("echo.whoami")),
    );
    const byNode = new Map<string, number>();
    for (const { nodeID } of answers) byNode.set(nodeID, (byNode.get(nodeID) ?? 0) + 1);
    expect([...byNode.keys()].sort()).toEqual([`${namespace}-a`, `${namespace}-b`]);
    for (const count of byNode.values()) expect(count).toBeGreaterThanOrEqual(10);
  });

  it("when SIGTERM reaches a node with calls in flight, then every in-flight call still succeeds", async () => {
    const target = `${namespace}-a`;
    const inFlight = Array.from({ length: 10 }, () =>
      caller.call<{ nodeID: string; done: boolean }, { ms: number }>(
        "echo.slow",
        { ms: 1500 },
        { nodeID: target },
      ),
    );
    await new Promise(resolve => setTimeout(resolve, 300));
    nodes[0].child.kill("SIGTERM");
    const results = await Promise.all(inFlight);
    expect(results.every(result => result.done && result.nodeID === target)).toBe(true);
    expect(await nodes[0].exited).toBe("0");
  }, 30_000);

  it("when a node is killed, then its calls move to the surviving node within seconds", async () => {
    // Node a left gracefully above; start it again, then crash node b without a goodbye.
    nodes[0] = await echoNode({ ...env, NODE_ID: `${namespace}-a` });
    await waitForEndpoints(caller, "echo.whoami", 2);
    nodes[1].child.kill("SIGKILL");
    const killedAt = Date.now();
    let failures = 0;
    let recoveredAt = 0;
    while (Date.now() - killedAt < 15_000) {
      try {
        const { nodeID } = await caller.call<{ nodeID: string }, object>(
          "echo.whoami",
          {},
          { timeout: 1000, retries: 0 },
        );
        if (nodeID === `${namespace}-a`) {
          recoveredAt ||= Date.now();
          const next = await Promise.all(
            Array.from({ length: 20 }, () => caller.call<{ nodeID: string }>("echo.whoami")),
          );
          if (next.every(answer => answer.nodeID === `${namespace}-a`)) break;
        }
      } catch {
        failures++;
      }
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    expect(recoveredAt).toBeGreaterThan(0);
    // Heartbeat timeout is 4 s, checked every second: out of rotation within about 5 s.
    expect(caller.registry.getActionEndpoints("echo.whoami")?.hasAvailable()).toBe(true);
    expect(caller.registry.nodes.get(`${namespace}-b`)?.available).toBe(false);
    expect(Date.now() - killedAt).toBeLessThan(8_000);
    expect(failures).toBeLessThan(20);
  }, 40_000);
});

async function waitForEndpoints(
  broker: ServiceBroker,
  action: string,
  count: number,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (broker.registry.getActionEndpoints(action)?.count() !== count) {
    if (Date.now() > deadline) throw new Error(`${action} never had ${count} endpoints`);
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}
