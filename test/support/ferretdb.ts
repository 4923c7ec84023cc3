import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import mongoose from "mongoose";
import { createTestDatabase, tempDataDir, type TestDatabase } from "./isolation";
import { freePort } from "./node-process";

/**
 * FerretDB stands in for MongoDB in the suite: the global set-up starts one on a free
 * loopback port over its own PostgreSQL database, and the content suite's MongoDB half
 * runs against it (each suite in a MongoDB database of its own). CONTENT_MONGO_URI naming
 * a real MongoDB takes its place. scripts/test-tools/ferretdb.sh builds the binary.
 */

const VERSION = "v1.24.2";
const FERRETDB_BIN =
  process.env.FERRETDB_BIN ??
  path.join(
    process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"),
    "lingomesh",
    `ferretdb-${VERSION}`,
    "ferretdb",
  );
const BUILD = "sh scripts/test-tools/ferretdb.sh";

export interface RunningFerretDb {
  uri: string;
  stop(): Promise<void>;
}

/** Resolves once the server answers a MongoDB ping. */
async function pingMongo(uri: string, timeoutMs = 5000): Promise<void> {
  const conn = mongoose.createConnection(uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
  });
  try {
    await conn.asPromise();
    await conn.db!.admin().ping();
  } finally {
    await conn.close(true);
  }
}

/** Starts FerretDB, or throws with the line that says what to build or start. */
export async function startFerretDb(deadlineMs = 120_000): Promise<RunningFerretDb> {
  if (!fs.existsSync(FERRETDB_BIN)) {
    throw new Error(`FerretDB is not built (${FERRETDB_BIN} is missing); build it with: ${BUILD}`);
  }
  const database: TestDatabase = await createTestDatabase("lm_ferretdb");
  const stateDir = tempDataDir("ferretdb-state");
  const port = await freePort();
  const child = spawn(
    FERRETDB_BIN,
    [
      "--handler=postgresql",
      `--postgresql-url=${database.url}`,
      `--listen-addr=127.0.0.1:${port}`,
      "--debug-addr=127.0.0.1:0",
      `--state-dir=${stateDir}`,
      "--telemetry=disable",
      "--log-level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", chunk => (output += String(chunk)));
  child.stderr.on("data", chunk => (output += String(chunk)));
  let exitCode: number | null | undefined;
  const exited = new Promise<void>(resolve =>
    child.once("exit", code => {
      exitCode = code;
      resolve();
    }),
  );
  const uri = `mongodb://127.0.0.1:${port}/`;

  const stop = async () => {
    if (exitCode === undefined) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await database.drop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  };

  const until = Date.now() + deadlineMs;
  for (;;) {
    if (exitCode !== undefined) {
      await stop();
      throw new Error(`FerretDB (${FERRETDB_BIN}) exited with ${exitCode} at start:\n${output}`);
    }
    try {
      await pingMongo(uri, 2000);
      return { uri, stop };
    } catch (err) {
      if (Date.now() > until) {
        await stop();
        throw new Error(
          `FerretDB did not answer on ${uri} in ${deadlineMs} ms (${(err as Error).message}):\n${output}`,
        );
      }
      await new Promise(resolve => setTimeout(resolve, 250));
    }
  }
}

/**
 * The MongoDB server for a suite, as a URI naming a database of the suite's own: a test
 * that needs it and cannot reach it fails with the line saying what to start.
 */
export async function requireMongo(database: string): Promise<string> {
  const base = process.env.CONTENT_MONGO_URI ?? process.env.TEST_MONGO_URI;
  if (!base) {
    throw new Error(
      process.env.TEST_MONGO_UNAVAILABLE ??
        `No MongoDB server for this run: run the suite through jest's global set-up (npm test), which starts FerretDB (built by ${BUILD}), or set CONTENT_MONGO_URI to a MongoDB server`,
    );
  }
  const url = new URL(base);
  url.pathname = `/${database}`;
  try {
    await pingMongo(url.toString());
  } catch (err) {
    throw new Error(
      `MongoDB is not reachable at ${url.host} (${(err as Error).message}); ${
        process.env.CONTENT_MONGO_URI
          ? "start the server CONTENT_MONGO_URI names"
          : `start FerretDB: npm test's set-up does (${BUILD} builds it)`
      }`,
    );
  }
  return url.toString();
}

/** Drops a suite's MongoDB database. */
export async function dropMongoDatabase(uri: string): Promise<void> {
  const conn = await mongoose.createConnection(uri).asPromise();
  try {
    await conn.dropDatabase();
  } finally {
    await conn.close(true);
  }
}
