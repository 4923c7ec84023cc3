import { ServiceBroker } from "moleculer";
import { ConfigError, loadConfig } from "../lib/config";
import { brokerOptions } from "../moleculer.config";
import { serviceFile } from "../server";
import type { SeedReport } from "../services/content/seeder";

/**
 * `npm run seed`: loads the starter English courses into the content store the
 * environment names (DATABASE_URL / CONTENT_MONGO_URI, or the embedded store under
 * DATA_DIR). Idempotent: courses already there are left alone.
 */
async function main(): Promise<void> {
  const cfg = {
    ...loadConfig(),
    services: ["content" as const],
    nodeId: `seed-${process.pid}`,
    metricsPort: 0,
  };
  // A node of its own, off the cluster's transporter: the seed must not take calls.
  const broker = new ServiceBroker({
    ...brokerOptions({ ...cfg, transporter: undefined, clusterMode: false }),
  });
  broker.loadService(serviceFile("content"));
  await broker.start();
  try {
    const report = await broker.call<SeedReport>("content.seedStarter");
    for (const title of report.created) console.log(`created and published: ${title}`);
    for (const title of report.skipped) console.log(`already there: ${title}`);
    console.log(`placement bank: ${report.placementItems} questions`);
  } finally {
    await broker.stop();
  }
}

main().catch(err => {
  console.error(
    err instanceof ConfigError ? err.message : `Seeding failed: ${(err as Error).message}`,
  );
  process.exit(1);
});
