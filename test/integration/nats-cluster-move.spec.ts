import net from "node:net";
import { ServiceBroker, type BrokerOptions, type Context } from "moleculer";
import { WatchfulNatsTransporter } from "../../lib/nats-transporter";
import { brokerOptions } from "../../moleculer.config";
import { NatsCluster } from "../support/clustered-servers";
import { testConfig, uniqueName } from "../support/isolation";

/**
 * When a NATS server dies, every node on it moves to another server at about the same
 * moment, and NATS drops what it has no subscriber for yet. `npm run chaos` drill 13 found a
 * call the gateway sent right after its move lost that way (it waited out its 10 s timeout):
 * the progress node it went to was still moving. A node that moved now holds what it
 * addresses to a peer until that peer has been heard from on the new cluster.
 */

const CALLS_IN_FLIGHT = 16;
/** How long the callee's move takes: its next server in line accepts and never answers. */
const CALLEE_MOVE_MS = 400;
/** Calls keep going this long after the kill: the move of both nodes happens inside it. */
const AFTER_KILL_MS = 1500;

describe("two nodes on the same server of a NATS cluster when that server dies", () => {
  const namespace = uniqueName("natsmove");
  const nats = new NatsCluster(3);
  let caller: ServiceBroker;
  let callee: ServiceBroker;
  const held: net.Socket[] = [];
  const silent = net.createServer(socket => held.push(socket));

  function node(name: string, servers: string): ServiceBroker {
    const nodeID = `${namespace}-${name}`;
    const options = brokerOptions(
      testConfig({
        NAMESPACE: namespace,
        TRANSPORTER: nats.transporterUrl,
        NODE_ID: nodeID,
        SERVICES: "",
      }),
    );
    return new ServiceBroker({
      ...options,
      // The servers in their listed order: both nodes start on the first one.
      transporter: new WatchfulNatsTransporter({
        url: servers,
        name: nodeID,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        noRandomize: true,
        timeout: CALLEE_MOVE_MS,
      }) as unknown as BrokerOptions["transporter"],
      // A lost call is what this test looks for: no repeat may hide it.
      retryPolicy: { enabled: false },
      requestTimeout: 5000,
    });
  }

  beforeAll(async () => {
    await nats.start();
    await new Promise<void>(resolve => silent.listen(0, "127.0.0.1", resolve));
    const [first, second] = nats.nodes.map(server => server.url);
    const nowhere = `nats://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    caller = node("caller", `${first},${second}`);
    // The callee is still moving when the caller, already on the second server, calls it.
    callee = node("callee", `${first},${nowhere},${second}`);
    callee.createService({
      name: "echo",
      actions: { say: (ctx: Context<{ n: number }>) => ({ n: ctx.params.n }) },
    });
    await Promise.all([caller.start(), callee.start()]);
    await caller.waitForServices("echo", 20_000);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([caller?.stop(), callee?.stop()]);
    await nats.stop();
    for (const socket of held) socket.destroy();
    await new Promise(resolve => silent.close(resolve));
  });

  test("when it is killed under calls, then no call is lost (none waits out its timeout)", async () => {
    expect(await nats.serverOf(caller.nodeID)).toBe(0);
    expect(await nats.serverOf(callee.nodeID)).toBe(0);
    let killedAt = 0;
    let n = 0;
    const outcomes: Array<"ok" | string> = [];
    const loops = Array.from({ length: CALLS_IN_FLIGHT }, async () => {
      while (killedAt === 0 || Date.now() - killedAt < AFTER_KILL_MS) {
        const sent = n++;
        try {
          const reply = await caller.call<{ n: number }, { n: number }>("echo.say", { n: sent });
          outcomes.push(reply.n === sent ? "ok" : "wrong answer");
        } catch (err) {
          outcomes.push((err as Error).name);
        }
      }
    });
    await new Promise(resolve => setTimeout(resolve, 300));
    await nats.kill(0);
    killedAt = Date.now();
    await Promise.all(loops);

    expect(await nats.serverOf(caller.nodeID)).toBe(1);
    // Calls waiting for an answer over the dead server are released (RequestRejectedError);
    // a call sent during or after the move must not vanish.
    const lost = outcomes.filter(outcome => outcome === "RequestTimeoutError");
    expect(lost).toEqual([]);
    expect(outcomes.filter(outcome => outcome === "ok").length).toBeGreaterThan(CALLS_IN_FLIGHT);
  }, 60_000);
});
