import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import type { ServiceBroker } from "moleculer";
import type { ServiceName } from "../../lib/config";
import { startNode } from "../../server";
import { testConfig } from "./isolation";

export interface TestNode {
  broker: ServiceBroker;
  /** Base URL of the public API (`http://127.0.0.1:<port>/api/v1`) when the node runs the gateway. */
  apiUrl?: string;
  /** Gateway origin (`http://127.0.0.1:<port>`) for /health, /metrics and /api/docs. */
  origin?: string;
  stop(): Promise<void>;
}

/**
 * Starts one real node running `services`, configured only from `env` (see testConfig):
 * the same code path as `npm start`. With the gateway among them, its HTTP port is random.
 */
export async function startTestNode(
  services: ServiceName[],
  env: Record<string, string | undefined>,
): Promise<TestNode> {
  const cfg = testConfig({ ...env, SERVICES: services.join(",") });
  const broker = await startNode(cfg);
  let origin: string | undefined;
  if (services.includes("api")) {
    const api = broker.getLocalService("api") as unknown as { server: Server };
    const { port } = api.server.address() as AddressInfo;
    origin = `http://127.0.0.1:${port}`;
  }
  return {
    broker,
    origin,
    apiUrl: origin ? `${origin}/api/v1` : undefined,
    stop: () => broker.stop(),
  };
}
