import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "../scripts/build";
import { ROOT } from "../test/support/node-process";
import { NODE_FLAGS } from "./cluster";

/**
 * `npx tsx bench/import-rss.ts [--tsx | --build <dir>]`: what importing each service costs a node, before it
 * starts — for each, a fresh Node process (the bench's V8 flags, `--expose-gc`) requires
 * moleculer.config and the service's file from the compiled build (or, with `--tsx`, from the
 * sources through tsx), collects garbage and prints its RSS, V8 heap and the packages it
 * loaded (CommonJS ones, by size of their loaded files), heaviest first. A package listed for
 * a service that does not use it on every request is a candidate for a lazy import.
 * `--build <dir>`: an existing build (e.g. of another commit) instead of a fresh one.
 */

const SERVICES = ["api", "users", "content", "progress", "notify", "billing"];

/** Runs in each child: `argv[1]` the modules to require, in order. */
const PROBE = `
const fs = require("node:fs");
for (const file of JSON.parse(process.argv[1])) require(file);
gc(); gc();
const bytes = new Map();
for (const file of Object.keys(require.cache)) {
  const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(file.slice(file.lastIndexOf("node_modules/")));
  if (!match) continue;
  let size = 0;
  try { size = fs.statSync(file).size; } catch {}
  bytes.set(match[1], (bytes.get(match[1]) ?? 0) + size);
}
const { rss, heapUsed } = process.memoryUsage();
console.log(JSON.stringify({ rss, heapUsed, packages: [...bytes].sort((a, b) => b[1] - a[1]) }));
`;

interface Probe {
  rss: number;
  heapUsed: number;
  packages: Array<[string, number]>;
}

function probe(files: string[], tsx: boolean): Probe {
  const flags = [...NODE_FLAGS.split(" "), "--expose-gc", ...(tsx ? ["--import", "tsx"] : [])];
  const run = spawnSync(process.execPath, [...flags, "-e", PROBE, JSON.stringify(files)], {
    cwd: ROOT,
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "", HOME: os.homedir() },
  });
  const last = run.stdout.trim().split("\n").pop() ?? "";
  if (run.status !== 0 || !last.startsWith("{"))
    throw new Error(`probe of ${files.join(", ")} failed:\n${run.stderr}`);
  return JSON.parse(last) as Probe;
}

function main(): void {
  const tsx = process.argv.includes("--tsx");
  const at = process.argv.indexOf("--build");
  const given = at > 0 ? process.argv[at + 1] : undefined;
  const fresh = !tsx && !given;
  const dir = tsx
    ? ROOT
    : given
      ? path.resolve(given)
      : build(fs.mkdtempSync(path.join(os.tmpdir(), "lingomesh-import-rss-")));
  const ext = tsx ? ".ts" : ".js";
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  try {
    const config = path.join(dir, `moleculer.config${ext}`);
    const rows: Array<[string, Probe]> = [
      ["node alone", probe([], tsx)],
      ["moleculer.config", probe([config], tsx)],
      ...SERVICES.map((name): [string, Probe] => [
        name,
        probe([config, path.join(dir, "services", `${name}.service${ext}`)], tsx),
      ]),
    ];
    console.log(`${tsx ? "sources through tsx" : `build ${dir}`}; MiB after import and gc()`);
    console.log("| imported | RSS | V8 heap used | heaviest packages (KiB of loaded files) |");
    console.log("|---|---:|---:|---|");
    const base = new Set(rows[1][1].packages.map(([name]) => name));
    for (const [what, p] of rows) {
      const own = p.packages.filter(([name]) => what === "moleculer.config" || !base.has(name));
      const list = own
        .slice(0, 8)
        .map(([name, bytes]) => `${name} ${Math.round(bytes / 1024)}`)
        .join(", ");
      console.log(`| ${what} | ${mib(p.rss)} | ${mib(p.heapUsed)} | ${list || "–"} |`);
    }
  } finally {
    if (fresh) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
