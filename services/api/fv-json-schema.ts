/**
 * fastest-validator rule → JSON Schema (2020-12, as OpenAPI 3.1 uses), so the document
 * describes exactly what the actions validate: one definition, read from the actions'
 * own `params` in the service registry.
 */

export type JsonSchema = Record<string, unknown>;
type Rule = string | Record<string, unknown> | Rule[];

/** "string|min:3|optional" shorthand → rule object. */
function parseShorthand(rule: string): Record<string, unknown> {
  const [type, ...flags] = rule.split("|");
  const out: Record<string, unknown> = { type: type.trim() };
  for (const flag of flags) {
    const [key, value] = flag.split(":");
    if (value === undefined) out[key.trim()] = true;
    else if (/^-?\d+(\.\d+)?$/.test(value)) out[key.trim()] = Number(value);
    else if (value === "true" || value === "false") out[key.trim()] = value === "true";
    else out[key.trim()] = value;
  }
  return out;
}

function normalise(rule: Rule): Record<string, unknown> {
  if (typeof rule === "string") return parseShorthand(rule);
  if (Array.isArray(rule)) return { type: "multi", rules: rule };
  if (rule.$$type !== undefined) {
    // { $$type: "object", a: ..., b: ... } — the object shorthand
    const { $$type, ...props } = rule;
    const base = parseShorthand(String($$type));
    return { ...base, props };
  }
  return rule;
}

export function isOptional(rule: Rule): boolean {
  const r = normalise(rule);
  return r.optional === true || r.default !== undefined;
}

function withCommon(schema: JsonSchema, rule: Record<string, unknown>): JsonSchema {
  if (rule.default !== undefined && typeof rule.default !== "function")
    schema.default = rule.default;
  if (typeof rule.description === "string") schema.description = rule.description;
  if (rule.nullable === true && typeof schema.type === "string") {
    schema.type = [schema.type, "null"];
  }
  return schema;
}

const STRING_FORMATS: Record<string, string> = {
  email: "email",
  url: "uri",
  uuid: "uuid",
  date: "date-time",
};

/** Properties of an object rule (or of a whole `params` block). */
export function objectSchema(
  props: Record<string, Rule>,
  strict: boolean | "remove" | undefined,
): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, rule] of Object.entries(props)) {
    if (name.startsWith("$$")) continue;
    properties[name] = ruleToJsonSchema(rule);
    if (!isOptional(rule)) required.push(name);
  }
  const schema: JsonSchema = { type: "object", properties };
  if (required.length > 0) schema.required = required;
  if (strict === true) schema.additionalProperties = false;
  return schema;
}

export function ruleToJsonSchema(input: Rule): JsonSchema {
  const rule = normalise(input);
  const type = String(rule.type ?? "any");
  switch (type) {
    case "string": {
      const s: JsonSchema = { type: "string" };
      if (typeof rule.min === "number") s.minLength = rule.min;
      if (typeof rule.max === "number") s.maxLength = rule.max;
      if (typeof rule.length === "number") s.minLength = s.maxLength = rule.length;
      if (rule.pattern instanceof RegExp) s.pattern = rule.pattern.source;
      else if (typeof rule.pattern === "string") s.pattern = rule.pattern;
      if (Array.isArray(rule.enum)) s.enum = rule.enum;
      if (rule.numeric === true) s.pattern = "^-?\\d+(\\.\\d+)?$";
      if (rule.alphanum === true) s.pattern = "^[A-Za-z0-9]+$";
      if (rule.hex === true) s.pattern = "^[0-9a-fA-F]+$";
      return withCommon(s, rule);
    }
    case "email":
    case "url":
    case "uuid":
      return withCommon({ type: "string", format: STRING_FORMATS[type] }, rule);
    case "objectID":
      return withCommon({ type: "string", pattern: "^[0-9a-fA-F]{24}$" }, rule);
    case "number": {
      const s: JsonSchema = { type: rule.integer === true ? "integer" : "number" };
      if (typeof rule.min === "number") s.minimum = rule.min;
      if (typeof rule.max === "number") s.maximum = rule.max;
      if (typeof rule.equal === "number") s.const = rule.equal;
      if (rule.positive === true) s.exclusiveMinimum = 0;
      if (rule.negative === true) s.exclusiveMaximum = 0;
      return withCommon(s, rule);
    }
    case "boolean":
      return withCommon({ type: "boolean" }, rule);
    case "date":
      return withCommon({ type: "string", format: "date-time" }, rule);
    case "enum":
      return withCommon({ enum: Array.isArray(rule.values) ? rule.values : [] }, rule);
    case "equal":
      return withCommon({ const: rule.value }, rule);
    case "array": {
      const s: JsonSchema = { type: "array" };
      if (rule.items !== undefined) s.items = ruleToJsonSchema(rule.items as Rule);
      if (typeof rule.min === "number") s.minItems = rule.min;
      if (typeof rule.max === "number") s.maxItems = rule.max;
      if (typeof rule.length === "number") s.minItems = s.maxItems = rule.length;
      if (rule.unique === true) s.uniqueItems = true;
      if (Array.isArray(rule.enum)) s.items = { enum: rule.enum };
      return withCommon(s, rule);
    }
    case "tuple":
      return withCommon(
        {
          type: "array",
          prefixItems: Array.isArray(rule.items)
            ? rule.items.map(item => ruleToJsonSchema(item as Rule))
            : [],
        },
        rule,
      );
    case "object": {
      const props = (rule.props ?? rule.properties) as Record<string, Rule> | undefined;
      const s: JsonSchema = props
        ? objectSchema(props, rule.strict as boolean | undefined)
        : { type: "object" };
      if (typeof rule.minProps === "number") s.minProperties = rule.minProps;
      if (typeof rule.maxProps === "number") s.maxProperties = rule.maxProps;
      return withCommon(s, rule);
    }
    case "record":
      return withCommon(
        {
          type: "object",
          additionalProperties:
            rule.value !== undefined ? ruleToJsonSchema(rule.value as Rule) : {},
        },
        rule,
      );
    case "multi":
      return withCommon(
        { anyOf: ((rule.rules as Rule[]) ?? []).map(item => ruleToJsonSchema(item)) },
        rule,
      );
    case "forbidden":
      return { not: {} };
    case "currency":
      return withCommon({ type: "string", pattern: "^-?[\\d,]+(\\.\\d+)?$" }, rule);
    case "mac":
    case "luhn":
      return withCommon({ type: "string" }, rule);
    case "class":
    case "function":
    case "custom":
    case "any":
    default:
      return withCommon({}, rule);
  }
}
