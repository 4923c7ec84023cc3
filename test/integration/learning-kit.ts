import fs from "node:fs";
import type { ServiceBroker } from "moleculer";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  tempDataDir,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import type { Role } from "../../models/auth.model";
import { dropMongoDatabase, requireMongo } from "../support/ferretdb";
import { requireServers } from "../support/servers";
import {
  fakeUsersService,
  http,
  newSigningKey,
  signAccessToken,
  startServiceNode,
  TEST_PUBLIC_URL,
} from "./api-kit";
import { PASSWORD, newEmail } from "./users.support";

/**
 * The real services on a two-node cluster for the learning suites (certificates, analytics):
 * gateway, users and content on one node, progress and notify on the other, over NATS,
 * RabbitMQ, Redis and PostgreSQL; the bootstrap admin signed in; calls through the gateway.
 */

export type Json = Record<string, unknown>;

interface Answer {
  status: number;
  body: Json;
  headers: Headers;
  text: string;
}

export interface LearningCluster {
  db: TestDatabase;
  /** The gateway node's broker: what an operator's REPL calls (progress.rebuildAnalytics). */
  broker: ServiceBroker;
  apiUrl: string;
  adminToken: string;
  call(method: string, route: string, opts?: { token?: string; json?: unknown }): Promise<Answer>;
  /** The answer's body, or a thrown error naming the status and body. */
  ok(
    method: string,
    route: string,
    status: number,
    opts?: { token?: string; json?: unknown },
  ): Promise<Json>;
  register(name: string): Promise<{ id: string; token: string }>;
  /** A user with the author role (and a token carrying it). */
  author(name: string): Promise<{ id: string; token: string }>;
  /** An action called on the gateway node's broker (internal actions included). */
  action<T>(name: string, params?: object): Promise<T>;
  stop(): Promise<void>;
}

export async function startLearningCluster(
  label: string,
  publicUrl: string,
  extraEnv: Record<string, string> = {},
): Promise<LearningCluster> {
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  const db = await createTestDatabase(`lm_${label}`);
  const namespace = uniqueName(label);
  const dataDir = tempDataDir(`lm-${label}`);
  const admin = { email: `admin.${namespace}@example.test`, password: "admin passphrase 42" };
  const env = {
    ...clusterEnv(namespace, db.url),
    PUBLIC_URL: publicUrl,
    DATA_DIR: dataDir,
    RATE_LIMIT_RPM: "100000",
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    ...extraEnv,
  };
  const nodes: TestNode[] = [];
  const stop = async () => {
    for (const node of nodes.reverse()) await node.stop();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    nodes.push(
      await startTestNode(["api", "users", "content"], { ...env, NODE_ID: `${namespace}-edge` }),
    );
    nodes.push(
      await startTestNode(["progress", "notify"], { ...env, NODE_ID: `${namespace}-work` }),
    );
    await nodes[0].broker.waitForServices(["progress", "notify"], 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const apiUrl = nodes[0].apiUrl as string;
  const call: LearningCluster["call"] = async (method, route, opts = {}) => {
    const res = await http(`${apiUrl}${route}`, { method, ...opts });
    return { ...res, body: (res.body ?? {}) as Json };
  };
  const ok: LearningCluster["ok"] = async (method, route, status, opts = {}) => {
    const res = await call(method, route, opts);
    if (res.status !== status) throw new Error(`${method} ${route}: ${res.status} ${res.text}`);
    return res.body;
  };
  const register = async (name: string) => {
    const body = await ok("POST", "/auth/register", 201, {
      json: { email: newEmail(label), password: PASSWORD, name },
    });
    return { id: (body.user as Json).id as string, token: body.accessToken as string };
  };
  const adminToken = (await ok("POST", "/auth/login", 200, { json: admin })).accessToken as string;
  return {
    db,
    broker: nodes[0].broker,
    apiUrl,
    adminToken,
    call,
    ok,
    register,
    async author(name) {
      const user = await register(name);
      await ok("PUT", `/users/${user.id}/roles`, 200, {
        token: adminToken,
        json: { roles: ["learner", "author"] },
      });
      const email = (await ok("GET", "/me", 200, { token: user.token })).email as string;
      const login = await ok("POST", "/auth/login", 200, { json: { email, password: PASSWORD } });
      return { id: user.id, token: login.accessToken as string };
    },
    action: (name, params) => nodes[0].broker.call(name, params),
    stop,
  };
}

/** Both content stores, for the suites that run once on each (MongoDB through FerretDB). */
export function contentStores(
  label: string,
): Array<{ name: string; env: () => Promise<Record<string, string>> }> {
  return [
    { name: "postgres", env: async () => ({}) },
    {
      name: "mongodb",
      env: async () => ({
        CONTENT_MONGO_URI: await requireMongo(uniqueName(`lm_${label}`).toLowerCase()),
      }),
    },
  ];
}

/**
 * Gateway, content and progress on one node over NATS, PostgreSQL and the given content store,
 * beside a stand-in users service whose key signs the suite's tokens (`sign`).
 */
export interface ContentProgressNode {
  apiUrl: string;
  sign(sub: string, roles: Role[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startContentProgressNode(
  label: string,
  storeEnv: Record<string, string>,
): Promise<ContentProgressNode> {
  await requireServers("postgres", "nats");
  const db = await createTestDatabase(`lm_${label}`);
  const ns = uniqueName(label);
  const key = await newSigningKey();
  const env = {
    ...clusterEnv(ns, db.url),
    ...storeEnv,
    PUBLIC_URL: TEST_PUBLIC_URL,
    DATA_DIR: tempDataDir(),
  };
  const users = await startServiceNode(env, `${ns}-users`, [
    fakeUsersService({ keys: [key], jwksCalls: 0 }),
  ]);
  const node = await startTestNode(["api", "content", "progress"], env);
  await node.broker.waitForServices(["users", "content", "progress"]);
  return {
    apiUrl: node.apiUrl as string,
    sign: (sub, roles) => signAccessToken(key, { sub, roles }),
    async stop() {
      await node.stop();
      await users.stop();
      await db.drop();
      if (storeEnv.CONTENT_MONGO_URI) await dropMongoDatabase(storeEnv.CONTENT_MONGO_URI);
    },
  };
}
