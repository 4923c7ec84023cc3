import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { clusterEnv } from "../../support/isolation";
import { freePort } from "../../support/node-process";
import { killAll, startServer, startupLock, type ServerProcess } from "./nodes";

export interface NodeSpec {
  name: string;
  services: string;
  /** Runs the gateway: gets a PORT of its own. */
  gateway?: boolean;
}

export interface ProcessCluster {
  nodes: Map<string, ServerProcess>;
  node(name: string): ServerProcess;
  /** Origins of the gateway nodes, in the order given. */
  gateways(): string[];
  /** Starts a node again (same name, ports and environment) after it was killed or stopped. */
  restart(name: string): Promise<ServerProcess>;
  /** Environment every node of this cluster shares (for one-off scripts such as the seed). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A cluster of separate `server.ts` processes on the real NATS, Redis, RabbitMQ and PostgreSQL,
 * isolated by namespace (Redis prefix and AMQP names follow it) and by database. When it stops,
 * each node's log (warn and above) is left in $TMPDIR/lingomesh-system-logs/<namespace>/.
 */
export async function startProcessCluster(opts: {
  namespace: string;
  databaseUrl: string;
  specs: NodeSpec[];
  env?: Record<string, string>;
}): Promise<ProcessCluster> {
  const env: Record<string, string> = {
    ...clusterEnv(opts.namespace, opts.databaseUrl),
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    ...opts.env,
  };
  const envOf = new Map<string, Record<string, string>>();
  for (const spec of opts.specs) {
    envOf.set(spec.name, {
      ...env,
      SERVICES: spec.services,
      NODE_ID: `${opts.namespace}-${spec.name}`,
      METRICS_PORT: String(await freePort()),
      ...(spec.gateway ? { PORT: String(await freePort()) } : {}),
    });
  }
  const nodes = new Map<string, ServerProcess>();
  const start = async (name: string, lock: boolean) => {
    const node = await startServer(name, envOf.get(name)!, 90_000, { lock });
    nodes.set(name, node);
    return node;
  };
  // All nodes at once, as an orchestrator would start them.
  const started = await startupLock(() =>
    Promise.allSettled(opts.specs.map(spec => start(spec.name, false))),
  );
  const failed = started.find(r => r.status === "rejected");
  if (failed) {
    await killAll([...nodes.values()]);
    throw (failed as PromiseRejectedResult).reason;
  }
  return {
    nodes,
    env,
    node(name) {
      const node = nodes.get(name);
      if (!node) throw new Error(`no node ${name}`);
      return node;
    },
    gateways: () => opts.specs.filter(s => s.gateway).map(s => nodes.get(s.name)!.origin!),
    restart: name => start(name, true),
    async stop() {
      await killAll([...nodes.values()]);
      // Each node's log, for reading after a failure (the test output names the namespace).
      const root = path.join(os.tmpdir(), "lingomesh-system-logs");
      const dir = path.join(root, opts.namespace);
      fs.mkdirSync(dir, { recursive: true });
      for (const old of fs.readdirSync(root)) {
        const at = path.join(root, old);
        const stale = Date.now() - (fs.statSync(at, { throwIfNoEntry: false })?.mtimeMs ?? 0);
        if (stale > 86_400_000) fs.rmSync(at, { recursive: true, force: true });
      }
      for (const [name, node] of nodes)
        fs.writeFileSync(path.join(dir, `${name}.log`), node.output());
    },
  };
}
