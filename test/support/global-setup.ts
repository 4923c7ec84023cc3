import { createRunVhost } from "./rabbitmq-vhost";
import { SERVERS, requireServers } from "./servers";

// Every integration suite needs these; check once so a missing server is one clear line.
export default async function globalSetup(): Promise<void> {
  if (process.env.SKIP_SERVER_CHECK === "1") return;
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  // Workers start after this and inherit the variable (test/support/servers.ts reads it).
  const vhostUrl = await createRunVhost(SERVERS.rabbitmq.url);
  if (vhostUrl) process.env.TEST_AMQP_URL = vhostUrl;
}
