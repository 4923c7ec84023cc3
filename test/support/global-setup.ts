import { requireServers } from "./servers";

// Every integration suite needs these; check once so a missing server is one clear line.
export default async function globalSetup(): Promise<void> {
  if (process.env.SKIP_SERVER_CHECK === "1") return;
  await requireServers("postgres", "redis", "rabbitmq", "nats");
}
