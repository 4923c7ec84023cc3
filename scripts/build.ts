import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/**
 * `npm run build`: the nodes' code compiled to JavaScript in `dist/` (tsconfig.build.json, a
 * source map beside each file), with the files the nodes read at run time copied where the
 * compiled modules look for them (their paths are relative to `__dirname`). Production runs
 * `node --enable-source-maps dist/server.js` (the Dockerfile); `npm run bench` builds first.
 *
 *   --out-dir <dir>   build there instead (outside the repository, `node_modules` is linked in)
 */

const ROOT = path.resolve(__dirname, "..");

/** Read at run time by path, not imported: tsc does not emit them. */
const ASSETS = [
  // Mail layouts, plain-text parts and locale texts (services/notify/templates.ts, texts.ts).
  "templates",
  // The blocked-passwords list (services/users/passwords.ts).
  "lib/auth/data/common-passwords.txt",
  // The embedded PostgreSQL's worker thread (lib/db/embedded.ts): erasable TypeScript that
  // Node 24 runs as it is, with its own type stripping.
  "lib/db/pglite-worker.mts",
];

export function build(outDir = path.join(ROOT, "dist")): string {
  fs.rmSync(outDir, { recursive: true, force: true });
  const tsc = spawnSync(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", outDir],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (tsc.status !== 0) {
    throw new Error(`tsc -p tsconfig.build.json failed:\n${tsc.stdout}${tsc.stderr}`);
  }
  for (const asset of ASSETS) {
    fs.cpSync(path.join(ROOT, asset), path.join(outDir, asset), { recursive: true });
  }
  // Outside the repository the compiled modules would find no dependencies.
  if (path.relative(ROOT, outDir).startsWith("..")) {
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(outDir, "node_modules"), "dir");
  }
  return outDir;
}

if (require.main === module) {
  const at = process.argv.indexOf("--out-dir");
  const outDir = at > 0 && process.argv[at + 1] ? path.resolve(process.argv[at + 1]) : undefined;
  console.log(`built into ${build(outDir)}`);
}
