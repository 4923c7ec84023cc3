/**
 * What xAPI 1.0.3 (Part Two, §2.4) asks of a statement, checked member by member: the problems
 * of one statement, none when it is well formed. A local LRS would refuse a statement with any.
 */

type Json = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const IFIS = ["mbox", "mbox_sha1sum", "openid", "account"];

const isIri = (value: unknown): boolean => {
  if (typeof value !== "string") return false;
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
};
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isLanguageMap = (value: unknown): boolean =>
  isObject(value) && Object.values(value).every(v => typeof v === "string");

function activityProblems(activity: unknown, where: string): string[] {
  if (!isObject(activity)) return [`${where} is not an object`];
  const problems: string[] = [];
  if (activity.objectType !== undefined && activity.objectType !== "Activity")
    problems.push(`${where}.objectType is ${String(activity.objectType)}`);
  if (!isIri(activity.id)) problems.push(`${where}.id is not an IRI`);
  const definition = activity.definition;
  if (definition !== undefined) {
    if (!isObject(definition)) problems.push(`${where}.definition is not an object`);
    else {
      if (definition.type !== undefined && !isIri(definition.type))
        problems.push(`${where}.definition.type is not an IRI`);
      if (definition.name !== undefined && !isLanguageMap(definition.name))
        problems.push(`${where}.definition.name is not a language map`);
    }
  }
  return problems;
}

export function statementProblems(statement: unknown): string[] {
  if (!isObject(statement)) return ["not an object"];
  const s = statement;
  const problems: string[] = [];
  if (typeof s.id !== "string" || !UUID.test(s.id)) problems.push("id is not a UUID");
  const actor = s.actor;
  if (!isObject(actor)) problems.push("no actor");
  else {
    if (actor.objectType !== undefined && actor.objectType !== "Agent")
      problems.push("actor is not an Agent");
    const ifis = IFIS.filter(name => actor[name] !== undefined);
    if (ifis.length !== 1) problems.push(`actor has ${ifis.length} inverse functional identifiers`);
    if (actor.account !== undefined) {
      const account = actor.account;
      if (!isObject(account) || !isIri(account.homePage) || typeof account.name !== "string")
        problems.push("actor.account needs homePage (IRL) and name");
    }
  }
  if (!isObject(s.verb) || !isIri(s.verb.id)) problems.push("verb.id is not an IRI");
  else if (s.verb.display !== undefined && !isLanguageMap(s.verb.display))
    problems.push("verb.display is not a language map");
  problems.push(...activityProblems(s.object, "object"));
  if (s.result !== undefined) {
    if (!isObject(s.result)) problems.push("result is not an object");
    else {
      const score = s.result.score;
      if (score !== undefined) {
        if (!isObject(score)) problems.push("result.score is not an object");
        else {
          const { scaled, raw, min, max } = score as Record<string, number | undefined>;
          if (scaled !== undefined && (scaled < -1 || scaled > 1))
            problems.push("result.score.scaled is outside -1..1");
          if (min !== undefined && max !== undefined && min > max)
            problems.push("result.score.min is above max");
          if (
            raw !== undefined &&
            ((min !== undefined && raw < min) || (max !== undefined && raw > max))
          )
            problems.push("result.score.raw is outside min..max");
        }
      }
      for (const flag of ["success", "completion"])
        if (s.result[flag] !== undefined && typeof s.result[flag] !== "boolean")
          problems.push(`result.${flag} is not a boolean`);
    }
  }
  if (s.context !== undefined) {
    const parents =
      isObject(s.context) && isObject(s.context.contextActivities)
        ? s.context.contextActivities.parent
        : undefined;
    if (parents !== undefined) {
      if (!Array.isArray(parents))
        problems.push("context.contextActivities.parent is not an array");
      else parents.forEach((p, i) => problems.push(...activityProblems(p, `context.parent[${i}]`)));
    }
  }
  if (typeof s.timestamp !== "string" || !ISO_8601.test(s.timestamp))
    problems.push("timestamp is not ISO 8601");
  if (s.version !== undefined && !/^1\.0\.\d+$/.test(String(s.version)))
    problems.push("version is not 1.0.x");
  return problems;
}
