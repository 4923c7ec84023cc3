import { runState } from "./global-setup";
import { deleteRunVhost } from "./rabbitmq-vhost";

export default async function globalTeardown(): Promise<void> {
  await runState().ferretdb?.stop();
  await deleteRunVhost(process.env.TEST_AMQP_URL);
}
