import path from "node:path";
import { Cluster, type NodeSpec } from "./cluster";
import { check, type DrillBasics, type DrillResult } from "./drill";

/** Servers a drill runs for itself (test/support/clustered-servers.ts). */
export interface OwnServers {
  start(): Promise<void>;
  stop(): Promise<void>;
  killAllNow(): void;
}

const running = new Set<{ killAllNow(): void }>();

/** For the harness's exit and signal handlers: no process of a drill outlives the harness. */
export function killOwnClustersNow(): void {
  for (const owner of running) owner.killAllNow();
}

export interface OwnClusterSpec {
  /** Names the node-log folder (`<logDir>/<tag>/`). */
  tag: string;
  nodes: NodeSpec[];
  /** Started before the nodes, stopped after them. */
  servers?: OwnServers[];
  /** Environment for every node, read once `servers` are up (their ports are known then). */
  env?: () => Record<string, string>;
  balanced?: boolean;
}

type Outcome = Omit<DrillResult, "id" | "name" | "passed" | "durationSeconds">;

/**
 * Runs `drill` on a cluster of its own: its servers, its nodes (a fresh database, namespace,
 * Redis prefix and RabbitMQ vhost), then everything stopped and deleted, whatever happens.
 * Node processes that exit on their own fail the drill, as on the shared cluster.
 */
export async function onOwnCluster(
  ctx: DrillBasics,
  spec: OwnClusterSpec,
  drill: (cluster: Cluster) => Promise<Outcome>,
): Promise<Outcome> {
  const servers = spec.servers ?? [];
  let cluster: Cluster | undefined;
  for (const server of servers) running.add(server);
  try {
    for (const server of servers) await server.start();
    cluster = new Cluster({
      nodes: spec.nodes,
      env: { SMTP_URL: ctx.smtp.url, ...spec.env?.() },
      logDir: path.join(ctx.logDir, spec.tag),
      ownVhost: true,
      balanced: spec.balanced,
    });
    running.add(cluster);
    ctx.log(
      `starting a cluster of its own (namespace ${cluster.namespace}): ${spec.nodes.map(n => n.name).join(", ")}`,
    );
    const t0 = performance.now();
    await cluster.start();
    ctx.log(`ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const outcome = await drill(cluster);
    const crashed = cluster.crashed();
    outcome.checks.push(
      check(
        "node processes that exited on their own",
        crashed.length ? crashed.join(", ") : 0,
        "0",
        crashed.length === 0,
      ),
    );
    return outcome;
  } finally {
    if (cluster) {
      await cluster.stop().catch(err => ctx.log(`cluster stop: ${(err as Error).message}`));
      running.delete(cluster);
    }
    for (const server of [...servers].reverse()) {
      await server.stop().catch(err => ctx.log(`server stop: ${(err as Error).message}`));
      running.delete(server);
    }
  }
}
