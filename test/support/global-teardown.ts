import { deleteRunVhost } from "./rabbitmq-vhost";

export default async function globalTeardown(): Promise<void> {
  await deleteRunVhost(process.env.TEST_AMQP_URL);
}
