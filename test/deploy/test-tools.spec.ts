import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { repoFile } from "./deploy-support";

/**
 * `npm test`'s own set-up (the pretest script, scripts/test-tools.sh): every executable script
 * of scripts/test-tools/ provides one tool a suite drives. Run here with the tool present, and
 * with it hidden on a machine that cannot install it (no apt-get, no writable bin folder).
 */

const RUNNER = repoFile("scripts", "test-tools.sh");

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function runScript(file: string, args: string[], env: Record<string, string>) {
  return spawnSync("/bin/sh", [file, ...args], { env, encoding: "utf8", timeout: 20_000 });
}

/** A PATH holding only the named commands of this machine (so the tool and apt-get are absent). */
function pathWith(commands: string[]): string {
  const dir = tempDir("lm-path-");
  for (const name of commands) {
    const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
    fs.symlinkSync(found.stdout.trim(), path.join(dir, name));
  }
  return dir;
}

describe("npm test's set-up (scripts/test-tools.sh)", () => {
  const folders: string[] = [];
  afterAll(() => {
    for (const dir of folders) fs.rmSync(dir, { recursive: true, force: true });
  });

  function scriptFolder(scripts: Record<string, { body: string; executable: boolean }>) {
    const dir = tempDir("lm-tools-");
    folders.push(dir);
    for (const [name, { body, executable }] of Object.entries(scripts)) {
      fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, {
        mode: executable ? 0o755 : 0o644,
      });
    }
    fs.mkdirSync(path.join(dir, "lib"));
    return dir;
  }

  it("when the folder holds scripts, then each executable one runs, in name order, and nothing else", () => {
    const record = (name: string) => `echo ${name} >> "$RECORD"`;
    const dir = scriptFolder({
      "b-second.sh": { body: record("b"), executable: true },
      "a-first.sh": { body: record("a"), executable: true },
      "notes.txt": { body: record("notes"), executable: false },
    });
    const recordFile = path.join(dir, "record");
    const result = runScript(RUNNER, [dir], {
      PATH: process.env.PATH ?? "",
      RECORD: recordFile,
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(fs.readFileSync(recordFile, "utf8").split("\n").filter(Boolean)).toEqual(["a", "b"]);
  });

  it("when a script cannot provide its tool, then the set-up stops there with that script's line", () => {
    const dir = scriptFolder({
      "a-missing.sh": { body: 'echo "npm test needs something" >&2; exit 1', executable: true },
      "b-after.sh": { body: 'echo b >> "$RECORD"', executable: true },
    });
    const recordFile = path.join(dir, "record");
    const result = runScript(RUNNER, [dir], {
      PATH: process.env.PATH ?? "",
      RECORD: recordFile,
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toBe("npm test needs something\n");
    expect(fs.existsSync(recordFile)).toBe(false);
  });

  it.each(["promtool", "chromium", "kubectl"])(
    "when %s is on the PATH, then its script returns at once and prints nothing",
    tool => {
      const bin = tempDir("lm-bin-");
      folders.push(bin);
      fs.writeFileSync(path.join(bin, tool), "#!/bin/sh\n", { mode: 0o755 });
      const result = runScript(repoFile("scripts", "test-tools", `${tool}.sh`), [], {
        PATH: `${bin}:${process.env.PATH ?? ""}`,
      });
      expect(result.stdout + result.stderr).toBe("");
      expect(result.status).toBe(0);
    },
  );

  it.each([
    ["promtool", "apt-get install prometheus"],
    ["chromium", "apt-get install chromium"],
  ])(
    "when %s is missing and there is no apt-get, then its script stops with one line naming what to install",
    (tool, install) => {
      const bin = pathWith(["sh", "dirname", "id"]);
      folders.push(bin);
      const result = runScript(repoFile("scripts", "test-tools", `${tool}.sh`), [], { PATH: bin });
      expect(result.status).toBe(1);
      expect(result.stdout).toBe("");
      const lines = result.stderr.split("\n").filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`npm test needs ${tool}`);
      expect(lines[0]).toContain(install);
    },
  );

  it("when kubectl is missing and its bin folder cannot be written, then its script stops with one line naming it", () => {
    const bin = pathWith(["sh", "dirname"]);
    folders.push(bin);
    const result = runScript(repoFile("scripts", "test-tools", "kubectl.sh"), [], {
      PATH: bin,
      TEST_TOOLS_BIN: path.join(bin, "absent"),
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("npm test needs kubectl");
    expect(lines[0]).toContain("https://kubernetes.io/docs/tasks/tools/");
  });

  it("when npm test runs, then its pretest is this set-up", () => {
    const manifest = JSON.parse(fs.readFileSync(repoFile("package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(manifest.scripts.pretest).toBe("sh scripts/test-tools.sh");
  });
});
