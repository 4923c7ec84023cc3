import { TestEnvironment } from "jest-environment-node";
import { createRunVhost, deleteRunVhost } from "./rabbitmq-vhost";

/**
 * The servers project's test environment: every test file gets a RabbitMQ vhost of its own,
 * deleted once the file is done (after its afterAll hooks), so the quorum queues its nodes
 * declared go with it. Without this they stayed until the end of the run, and a run's queues
 * took up the broker's file handles (about 3 a queue; the default limit of 1024 allows some
 * 300 queues): at the limit RabbitMQ stops accepting connections and every suite after
 * it times out. The run-wide vhost of global-setup.ts stays the fallback.
 */
export default class VhostPerFileEnvironment extends TestEnvironment {
  private vhostUrl?: string;

  override async setup(): Promise<void> {
    await super.setup();
    const runUrl = process.env.TEST_AMQP_URL;
    if (!runUrl) return;
    const server = new URL(runUrl);
    server.pathname = "/";
    this.vhostUrl = await createRunVhost(server.toString(), false);
    // The test file's process.env (jest gives each file its own copy) names the file's vhost.
    if (this.vhostUrl) this.global.process.env.TEST_AMQP_URL = this.vhostUrl;
  }

  override async teardown(): Promise<void> {
    try {
      await deleteRunVhost(this.vhostUrl);
    } finally {
      await super.teardown();
    }
  }
}
