import fs from "node:fs";
import path from "node:path";
import ts from "typescript";

/**
 * Counts the type assertions in the source (not tests, bench or scripts) — `npm run lint` runs
 * it with `--check`: at most MAX_DOUBLE_CASTS `as unknown as`, each under a comment starting
 * `Cast:` that names the untyped Moleculer (or library) type it works around (issue 14).
 * Without `--check` it prints the counts docs/architecture.md records.
 */

const MAX_DOUBLE_CASTS = 10;
const SOURCE = [
  "services",
  "lib",
  "mixins",
  "models",
  "middlewares",
  "types",
  "server.ts",
  "moleculer.config.ts",
];

interface Found {
  doubleCasts: Array<{ at: string; commented: boolean }>;
  otherAssertions: number;
  nonNull: number;
  thisAnnotations: number;
}

function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const visit = (entry: string) => {
    const full = path.join(root, entry);
    if (fs.statSync(full).isDirectory()) {
      for (const child of fs.readdirSync(full)) visit(path.join(entry, child));
    } else if (/\.m?ts$/.test(entry)) {
      out.push(entry);
    }
  };
  for (const entry of SOURCE) if (fs.existsSync(path.join(root, entry))) visit(entry);
  return out.sort();
}

const isUnknown = (node: ts.TypeNode) => node.kind === ts.SyntaxKind.UnknownKeyword;
const isConst = (node: ts.TypeNode) =>
  ts.isTypeReferenceNode(node) && node.typeName.getText() === "const";

/** A `// Cast: …` (or `/* Cast: … *\/`) on the cast's line or the comment lines right above it. */
function commented(file: ts.SourceFile, node: ts.Node): boolean {
  const lines = file.text.split("\n");
  let line = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
  if (/(\/\/|\/\*|\*)\s*Cast:/.test(lines[line])) return true;
  for (line -= 1; line >= 0; line--) {
    const text = lines[line].trim();
    if (!/^(\/\/|\/\*|\*)/.test(text)) return false;
    if (/^(\/\/|\/\*+|\*)\s*Cast:/.test(text)) return true;
  }
  return false;
}

function count(root: string, files: string[]): Found {
  const found: Found = { doubleCasts: [], otherAssertions: 0, nonNull: 0, thisAnnotations: 0 };
  for (const name of files) {
    const file = ts.createSourceFile(
      name,
      fs.readFileSync(path.join(root, name), "utf8"),
      ts.ScriptTarget.Latest,
      true,
    );
    const visit = (node: ts.Node) => {
      if (ts.isAsExpression(node) && !isConst(node.type)) {
        const inner = node.expression;
        if (ts.isAsExpression(inner) && isUnknown(inner.type)) {
          const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
          found.doubleCasts.push({ at: `${name}:${line + 1}`, commented: commented(file, node) });
          ts.forEachChild(inner.expression, visit);
          return;
        }
        found.otherAssertions++;
      } else if (ts.isTypeAssertionExpression(node)) {
        found.otherAssertions++;
      } else if (ts.isNonNullExpression(node)) {
        found.nonNull++;
      } else if (ts.isParameter(node) && node.name.getText() === "this" && node.type) {
        found.thisAnnotations++;
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return found;
}

function main(): void {
  const root = process.cwd();
  const found = count(root, sourceFiles(root));
  const check = process.argv.includes("--check");
  const uncommented = found.doubleCasts.filter(cast => !cast.commented);
  if (!check) {
    console.log(
      JSON.stringify(
        {
          asUnknownAs: found.doubleCasts.length,
          otherAssertions: found.otherAssertions,
          nonNullAssertions: found.nonNull,
          thisAnnotations: found.thisAnnotations,
          doubleCasts: found.doubleCasts.map(cast => cast.at),
        },
        null,
        2,
      ),
    );
    return;
  }
  const problems: string[] = [];
  if (found.doubleCasts.length > MAX_DOUBLE_CASTS) {
    problems.push(
      `${found.doubleCasts.length} \`as unknown as\` in the source; at most ${MAX_DOUBLE_CASTS}:\n` +
        found.doubleCasts.map(cast => `  ${cast.at}`).join("\n"),
    );
  }
  for (const cast of uncommented) {
    problems.push(`${cast.at}: \`as unknown as\` without a "Cast:" comment naming the type`);
  }
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    process.exitCode = 1;
    return;
  }
  console.log(
    `assertions: ${found.doubleCasts.length} \`as unknown as\` (at most ${MAX_DOUBLE_CASTS}), each commented`,
  );
}

main();
