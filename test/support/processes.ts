import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

export interface NodeProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `script` (a .ts file) as its own Node process and resolves once it prints READY. */
export async function spawnNode(
  script: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<NodeProcess> {
  // Node itself with tsx's loader, not the tsx CLI: the CLI runs the script in a child
  // process of its own, so a SIGKILL would hit the wrapper and leave the node running.
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", chunk => (output += String(chunk)));
  child.stderr?.on("data", chunk => (output += String(chunk)));
  const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} did not start in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const check = () => {
      if (output.includes("READY")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    void exited.then(code => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before READY:\n${output}`));
    });
  });
  return { child, output: () => output, exited };
}
