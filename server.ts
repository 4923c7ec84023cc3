import path from "node:path";
import { ServiceBroker } from "moleculer";
import { ConfigError, loadConfig, type AppConfig } from "./lib/config";
import { brokerOptions } from "./moleculer.config";

/**
 * Starts one node: the services named by SERVICES (all of them when unset) on the
 * transporter, cache, databases and broker the environment names — or, with no
 * variables at all, the whole system on embedded stand-ins.
 *
 *   --repl   open Moleculer's REPL on this node (`npm run repl` starts a node with no services)
 *   --hot    reload a service when its file changes (`npm run dev`)
 */

function parseArgs(argv: string[]): { repl: boolean; hot: boolean } {
  return { repl: argv.includes("--repl"), hot: argv.includes("--hot") };
}

export function serviceFile(name: string): string {
  return path.join(__dirname, "services", `${name}.service.ts`);
}

export async function startNode(
  cfg: AppConfig,
  opts: { repl?: boolean; hot?: boolean } = {},
): Promise<ServiceBroker> {
  const broker = new ServiceBroker({ ...brokerOptions(cfg), hotReload: Boolean(opts.hot) });
  for (const name of cfg.services) broker.loadService(serviceFile(name));
  await broker.start();
  if (opts.repl) await broker.repl();
  return broker;
}

async function main(): Promise<void> {
  let cfg: AppConfig;
  try {
    cfg = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const args = parseArgs(process.argv.slice(2));
  try {
    await startNode(cfg, args);
  } catch (err) {
    const error = err as Error;
    console.error(`Node failed to start: ${error.message}`);
    process.exit(1);
  }
}

if (require.main === module) void main();
