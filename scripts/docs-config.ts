import fs from "node:fs";
import path from "node:path";
import { CONFIG_VARIABLES, EXTRA_CONFIG_VARIABLES, type ConfigVariable } from "../lib/config";

/**
 * `npm run docs:config`: writes the README's configuration table from lib/config.ts (the one
 * source of the environment contract), between its two markers.
 */

export const README = path.resolve(__dirname, "..", "README.md");
const START =
  "<!-- config-table:start (npm run docs:config writes this table from lib/config.ts) -->";
const END = "<!-- config-table:end -->";

function row(variable: ConfigVariable): string {
  const names = variable.names.map(name => `\`${name}\``).join(", ");
  return `| ${names} | ${variable.example} | ${variable.unset} | ${variable.note ?? ""} |`;
}

export function configTable(): string {
  return [
    "| variable | example | unset | in this code |",
    "|---|---|---|---|",
    ...CONFIG_VARIABLES.map(row),
    ...EXTRA_CONFIG_VARIABLES.map(variable =>
      row({ ...variable, note: variable.note ?? "beyond the contract" }),
    ),
  ].join("\n");
}

/** The README's text with the table between the markers made current. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md lacks the markers ${START} … ${END}`);
  return `${readme.slice(0, start + START.length)}\n${configTable()}\n${readme.slice(end)}`;
}

if (require.main === module) {
  fs.writeFileSync(README, withConfigTable(fs.readFileSync(README, "utf8")));
}
