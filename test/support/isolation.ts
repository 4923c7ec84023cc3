import crypto from "node:crypto";
import os from "node:os";
import path from "node:path";
import fs from "node:fs";
import { Client } from "pg";
import { loadConfig, type AppConfig } from "../../lib/config";
import { SERVERS } from "./servers";

/** A name no other suite running beside this one uses (namespace, key prefix, queue prefix). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(4).toString("hex")}`;
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL database on the real server, dropped by `drop()`. */
export async function createTestDatabase(prefix = "lm_test"): Promise<TestDatabase> {
  const name = uniqueName(prefix).toLowerCase();
  const admin = new Client({ connectionString: SERVERS.postgres.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(SERVERS.postgres.url);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new Client({ connectionString: SERVERS.postgres.url });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A throwaway DATA_DIR for embedded stores, mails and media. */
export function tempDataDir(prefix = "lingomesh-test"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/**
 * The configuration of a test node: the environment contract with the given variables
 * and nothing from the developer's own shell (so a stray TRANSPORTER cannot leak in).
 */
export function testConfig(env: Record<string, string | undefined>): AppConfig {
  return loadConfig({
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    LOG_FORMAT: "json",
    METRICS_PORT: "0",
    PORT: "0",
    ...env,
  });
}

let keyPair: { privateKey: string; publicKey: string } | undefined;

/** One Ed25519 key pair per test process: cluster mode refuses to start without JWT keys. */
export function testKeyPair(): { privateKey: string; publicKey: string } {
  keyPair ??= crypto.generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  return keyPair;
}

/** Environment of a node of a full cluster on the machine's real servers, isolated by namespace. */
export function clusterEnv(namespace: string, databaseUrl: string): Record<string, string> {
  return {
    NAMESPACE: namespace,
    TRANSPORTER: SERVERS.nats.url,
    CACHER: SERVERS.redis.url,
    REDIS_URL: SERVERS.redis.url,
    REDIS_PREFIX: `${namespace}:`,
    DATABASE_URL: databaseUrl,
    AMQP_URL: SERVERS.rabbitmq.url,
    JWT_PRIVATE_KEY: testKeyPair().privateKey,
    JWT_PUBLIC_KEY: testKeyPair().publicKey,
  };
}
