import { ServiceBroker, type Context } from "moleculer";
import ApiGateway from "moleculer-web";

/**
 * The baseline of `npm run bench`: the framework's own ceiling on this machine. A bare
 * moleculer-web gateway (BASELINE_ROLE=gateway) routes `GET /echo` to an echo action on
 * another node (BASELINE_ROLE=echo) over the same NATS as the real cluster — no auth, no
 * limits, no cache, default broker options, logs at warn. Prints READY once serving.
 */

async function main(): Promise<void> {
  const role = process.env.BASELINE_ROLE === "gateway" ? "gateway" : "echo";
  const broker = new ServiceBroker({
    namespace: process.env.NAMESPACE,
    nodeID: `baseline-${role}-${process.pid}`,
    transporter: { type: "NATS", options: { url: process.env.TRANSPORTER } },
    logger: { type: "Console", options: { level: "warn" } },
    logLevel: "warn",
  });
  if (role === "echo") {
    broker.createService({
      name: "echo",
      actions: {
        echo(ctx: Context<Record<string, unknown>>) {
          return { echo: ctx.params, node: broker.nodeID };
        },
      },
    });
  } else {
    broker.createService({
      name: "gateway",
      mixins: [ApiGateway],
      settings: {
        port: Number(process.env.PORT),
        ip: "127.0.0.1",
        logRequest: null,
        logResponse: null,
        logRouteRegistration: null,
        routes: [{ path: "/", mappingPolicy: "restrict", aliases: { "GET /echo": "echo.echo" } }],
      },
    });
  }
  await broker.start();
  if (role === "gateway") await broker.waitForServices(["echo"], 30_000);
  console.log("READY");
  const stop = () => {
    broker.stop().finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

void main().catch((err: Error) => {
  console.error(`baseline node failed: ${err.message}`);
  process.exit(1);
});
