import fs from "node:fs";
import { CONFIG_VARIABLES, EXTRA_CONFIG_VARIABLES, loadConfig } from "../../lib/config";
import { README, configTable, withConfigTable } from "../../scripts/docs-config";

/** The environment contract's one table (lib/config.ts): what it says is read, and the README. */

/** The names loadConfig looks up in an environment (every lookup, set or not). */
function namesLoadConfigReads(base: Record<string, string>): Set<string> {
  const looked = new Set<string>();
  const env = new Proxy(base, {
    get(target, name) {
      if (typeof name === "string") looked.add(name);
      return Reflect.get(target, name);
    },
  });
  loadConfig(env);
  return looked;
}

describe("the configuration contract (lib/config.ts CONFIG_VARIABLES)", () => {
  const rows = [...CONFIG_VARIABLES, ...EXTRA_CONFIG_VARIABLES];

  it("when loadConfig reads an environment, then it reads exactly the variables the table marks as read", () => {
    // S3_REGION is looked up only once the S3 variables are set.
    const looked = new Set([
      ...namesLoadConfigReads({}),
      ...namesLoadConfigReads({
        S3_ENDPOINT: "http://minio:9000",
        S3_BUCKET: "media",
        S3_ACCESS_KEY: "key",
        S3_SECRET_KEY: "secret",
      }),
    ]);
    // `OIDC_<ID>_*` is a family of names, found by listing the environment rather than looked up.
    const marked = rows
      .filter(row => row.read)
      .flatMap(row => row.names)
      .filter(name => !name.includes("<ID>"));
    expect([...looked].sort()).toEqual([...marked].sort());
    for (const name of rows.filter(row => !row.read).flatMap(row => row.names)) {
      expect(looked).not.toContain(name);
    }
  });

  it("when a variable of the contract is not read yet, then its row says so", () => {
    for (const row of rows.filter(candidate => !candidate.read)) {
      expect(row.note).toMatch(/not built yet/);
    }
  });

  it("when the README is read, then its configuration table is the one generated from lib/config.ts (npm run docs:config)", () => {
    const readme = fs.readFileSync(README, "utf8");
    expect(readme).toContain(configTable());
    expect(withConfigTable(readme)).toBe(readme);
  });

  it("when a row is rendered, then every name of the table appears once in the README's table", () => {
    const table = configTable();
    for (const name of rows.flatMap(row => row.names)) {
      expect(table.split(`\`${name}\``)).toHaveLength(2);
    }
  });
});
