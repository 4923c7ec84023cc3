import type { Context, ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../support/cluster";
import { requireServers } from "../support/servers";
import { uniqueName } from "../support/isolation";
import { http, natsEnv, startServiceNode } from "./api-kit";

jest.mock("../../services/api/routes/identity.routes", () => ({
  identityRoutes: jest.requireActual("./api-fixture-routes").fixtureRoutes,
}));
jest.mock("../../services/api/routes/content.routes", () => ({ contentRoutes: [] }));
jest.mock("../../services/api/routes/learning.routes", () => ({ learningRoutes: [] }));
jest.mock("../../services/api/routes/notifications.routes", () => ({ notificationsRoutes: [] }));

interface LogLine {
  nodeID?: string;
  requestId?: string;
  msg?: string;
}

describe("request ids across nodes (real NATS)", () => {
  const namespace = uniqueName("apireq");
  const lines: LogLine[] = [];
  let gateway: TestNode;
  let middle: ServiceBroker;
  let leaf: ServiceBroker;
  const spies: jest.SpyInstance[] = [];

  beforeAll(async () => {
    await requireServers("nats");
    for (const method of ["log", "info", "warn", "error"] as const) {
      const original = console[method].bind(console);
      spies.push(
        jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
          for (const arg of args) {
            if (typeof arg !== "string" || !arg.startsWith("{")) continue;
            try {
              lines.push(JSON.parse(arg) as LogLine);
              return;
            } catch {
              // not one of ours
            }
          }
          original(...args);
        }),
      );
    }
    const env = natsEnv(namespace, { LOG_LEVEL: "info", LOG_FORMAT: "json" });
    leaf = await startServiceNode(env, `${namespace}-leaf`, [
      {
        name: "leaf",
        actions: {
          hit(this: { logger: { info(msg: string): void } }, ctx: Context) {
            this.logger.info("leaf reached");
            ctx.emit("leaf.hit", {});
            return { node: ctx.nodeID };
          },
        },
      },
    ]);
    middle = await startServiceNode(env, `${namespace}-mid`, [
      {
        name: "test",
        actions: {
          async chain(this: { logger: { info(msg: string): void } }, ctx: Context) {
            this.logger.info("middle reached");
            return ctx.call("leaf.hit");
          },
        },
      },
    ]);
    gateway = await startTestNode(["api"], { ...env, NODE_ID: `${namespace}-gw` });
    await gateway.broker.waitForServices(["test", "leaf"], 10_000);
  });

  afterAll(async () => {
    await gateway?.stop();
    await middle?.stop();
    await leaf?.stop();
    for (const spy of spies) spy.mockRestore();
  });

  it("when a request crosses three nodes, then its X-Request-Id is in log lines of every one of them", async () => {
    const requestId = `trace-${Date.now()}`;
    const res = await http(`${gateway.apiUrl}/chain`, { headers: { "X-Request-Id": requestId } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe(requestId);
    await new Promise(resolve => setTimeout(resolve, 100));
    const nodes = new Set(
      lines.filter(line => line.requestId === requestId).map(line => line.nodeID),
    );
    expect([...nodes].sort()).toEqual(
      [`${namespace}-gw`, `${namespace}-leaf`, `${namespace}-mid`].sort(),
    );
    const gatewayLine = lines.find(
      line => line.requestId === requestId && line.nodeID === `${namespace}-gw`,
    );
    expect(gatewayLine?.msg).toMatch(/<= 200 GET \/api\/v1\/chain/);
  });

  it("when no X-Request-Id is sent, then the generated one is what every node logs", async () => {
    const res = await http(`${gateway.apiUrl}/chain`);
    const requestId = res.headers.get("x-request-id") as string;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise(resolve => setTimeout(resolve, 100));
    const nodes = new Set(
      lines.filter(line => line.requestId === requestId).map(line => line.nodeID),
    );
    expect(nodes.size).toBe(3);
  });
});
