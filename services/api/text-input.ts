/**
 * Text the stores cannot keep: PostgreSQL refuses NUL in text and rejects an unpaired UTF-16
 * surrogate once it is encoded as UTF-8, so either one would surface as a 500 deep inside a
 * service. The gateway refuses both for every routed call (security.md line 30).
 */
const NUL = "\u0000";
const LONE_SURROGATE = /\p{Cs}/u;

/** At most this many problems are listed: enough to fix a request, not a 1 MiB echo. */
const PROBLEMS_LISTED = 20;

export interface TextProblem {
  type: "textNul" | "textLoneSurrogate";
  field: string;
  message: string;
}

function problemOf(text: string, field: string, what = "field"): TextProblem | undefined {
  if (text.includes(NUL)) {
    return {
      type: "textNul",
      field,
      message: `The '${field}' ${what} contains a NUL character (U+0000), which text may not contain.`,
    };
  }
  if (LONE_SURROGATE.test(text)) {
    return {
      type: "textLoneSurrogate",
      field,
      message: `The '${field}' ${what} contains an unpaired UTF-16 surrogate, which is not a character.`,
    };
  }
  return undefined;
}

/** A field path safe to print: a key's own unstorable characters become U+FFFD. */
const printable = (key: string): string =>
  key.replaceAll(NUL, "\uFFFD").replace(/\p{Cs}/gu, "\uFFFD");

const unstorable = (text: string): boolean => text.includes(NUL) || LONE_SURROGATE.test(text);

/**
 * Whether any string or key of `params`, at any depth, holds NUL or a lone surrogate: the
 * walk of every request, which names no path (nearly every request has nothing to name).
 */
function holdsUnstorableText(params: unknown): boolean {
  const pending: unknown[] = [params];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === "string") {
      if (unstorable(value)) return true;
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
    } else if (value !== null && typeof value === "object") {
      const entries: Array<[string, unknown]> = Object.entries(value);
      for (const [key, inner] of entries) {
        if (unstorable(key)) return true;
        pending.push(inner);
      }
    }
  }
  return false;
}

/**
 * Every string (values and keys, at any depth) of the request's parameters that holds NUL or
 * a lone surrogate, named by its path (`answers[0].value`). Iterative: a body may nest 32 deep.
 */
export function textProblems(params: unknown): TextProblem[] {
  if (!holdsUnstorableText(params)) return [];
  const problems: TextProblem[] = [];
  const pending: Array<[unknown, string]> = [[params, ""]];
  while (pending.length > 0 && problems.length < PROBLEMS_LISTED) {
    const [value, path] = pending.pop() as [unknown, string];
    if (typeof value === "string") {
      const problem = problemOf(value, path || "(body)");
      if (problem) problems.push(problem);
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) pending.push([value[i], `${path}[${i}]`]);
      continue;
    }
    const keys = Object.keys(value).reverse();
    for (const key of keys) {
      const field = path ? `${path}.${printable(key)}` : printable(key);
      const problem = problemOf(key, field, "key");
      if (problem) problems.push(problem);
      pending.push([(value as Record<string, unknown>)[key], field]);
    }
  }
  return problems.slice(0, PROBLEMS_LISTED);
}

export interface UnknownParamProblem {
  type: "objectStrict";
  field: string;
  actual: string;
  message: string;
}

/**
 * Query parameters the action does not declare. Bodies are the actions' own strict
 * validators' to judge (each lists every problem of the body at once); a query is refused here,
 * for every route alike, because several actions drop unknown parameters silently.
 */
export function unknownQueryParams(
  query: unknown,
  declared: Record<string, unknown> | undefined,
): UnknownParamProblem[] {
  if (query === null || typeof query !== "object") return [];
  return Object.keys(query)
    .filter(name => name.startsWith("$$") || !declared || !Object.hasOwn(declared, name))
    .map(name => ({
      type: "objectStrict",
      field: printable(name),
      actual: printable(name),
      message: `The query parameter '${printable(name)}' is not one this route takes.`,
    }));
}
