/**
 * The query strings nearly every request sends — a few `name=value` pairs of plain letters and
 * digits — read without qs (moleculer-web's parser, general enough for nested brackets,
 * charsets and repeated names, and costing as much as the rest of such a request's routing).
 * Anything else is undefined, and qs reads it as before: a name or value with any other
 * character (percent-escapes, `+`, brackets, dots), a name repeated, a name Object.prototype
 * has (qs drops those), an empty pair, or more than MAX_PLAIN_PAIRS pairs.
 */

const PLAIN_PAIR = /^([A-Za-z][A-Za-z0-9_]{0,63})=([A-Za-z0-9_.~-]{0,256})$/;
const MAX_PLAIN_PAIRS = 16;

export function plainQuery(search: string): Record<string, string> | undefined {
  const query: Record<string, string> = {};
  let start = 0;
  for (let pairs = 1; pairs <= MAX_PLAIN_PAIRS; pairs++) {
    const end = search.indexOf("&", start);
    const match = PLAIN_PAIR.exec(search.slice(start, end === -1 ? undefined : end));
    if (!match) return undefined;
    const [, name, value] = match;
    if (Object.hasOwn(query, name) || name in Object.prototype) return undefined;
    query[name] = value;
    if (end === -1) return query;
    start = end + 1;
  }
  return undefined;
}
