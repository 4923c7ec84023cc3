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

/** A service's file beside this one: `.ts` run from the sources, `.js` from the build (dist/). */
export function serviceFile(name: string): string {
  return path.join(__dirname, "services", `${name}.service${path.extname(__filename)}`);
}

/**
 * What a REPL node must be told at start: with no services and no transporter it can reach no
 * service at all, and every `call` would answer ServiceNotFoundError without saying why.
 */
export function replHint(cfg: AppConfig): string | undefined {
  if (cfg.services.length > 0 || cfg.transporter !== undefined) return undefined;
  return (
    "This REPL node runs no services and, without TRANSPORTER, joins no cluster: every call " +
    "answers ServiceNotFoundError. Run `npm run dev` for all services with the REPL in one " +
    "process, or set TRANSPORTER (and NAMESPACE) to join a running cluster."
  );
}

export async function startNode(
  cfg: AppConfig,
  opts: { repl?: boolean; hot?: boolean } = {},
): Promise<ServiceBroker> {
  const hint = opts.repl ? replHint(cfg) : undefined;
  const broker = new ServiceBroker({
    ...brokerOptions(cfg),
    hotReload: Boolean(opts.hot),
    // The hint is also in the REPL's `help`, as a command that prints it.
    replOptions: hint
      ? {
          customCommands: [
            {
              command: "alone",
              description: hint,
              action: async () => console.warn(hint),
            },
          ],
        }
      : undefined,
  });
  for (const name of cfg.services) broker.loadService(serviceFile(name));
  await broker.start();
  if (hint) console.warn(hint);
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
