import { startFerretDb, type RunningFerretDb } from "./ferretdb";
import { createRunVhost } from "./rabbitmq-vhost";
import { SERVERS, requireServers } from "./servers";

/** What global-teardown.ts stops: jest runs both in its own process and shares globals between them. */
export function runState(): { ferretdb?: RunningFerretDb } {
  const holder = globalThis as { lingomeshTestRun?: { ferretdb?: RunningFerretDb } };
  holder.lingomeshTestRun ??= {};
  return holder.lingomeshTestRun;
}

// Every integration suite needs these; check once so a missing server is one clear line.
export default async function globalSetup(): Promise<void> {
  if (process.env.SKIP_SERVER_CHECK === "1") return;
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  // Workers start after this and inherit the variables (test/support/servers.ts reads them).
  const vhostUrl = await createRunVhost(SERVERS.rabbitmq.url);
  if (vhostUrl) process.env.TEST_AMQP_URL = vhostUrl;
  // The content suite's MongoDB half: a real MongoDB when CONTENT_MONGO_URI names one, else
  // FerretDB. A failure here fails the suites that need it (with this line), not the others.
  if (!process.env.CONTENT_MONGO_URI) {
    try {
      const ferretdb = await startFerretDb();
      runState().ferretdb = ferretdb;
      process.env.TEST_MONGO_URI = ferretdb.uri;
    } catch (err) {
      process.env.TEST_MONGO_UNAVAILABLE = (err as Error).message;
      console.warn(`\n${(err as Error).message}`);
    }
  }
}
