/**
 * The input type of an action, derived from its fastest-validator params (`as const`), so the
 * type a handler reads and the rules that check it cannot drift apart:
 *
 *   const updateMeParams = { $$strict: true, name: { type: "string", optional: true } } as const;
 *   handler(ctx: Ctx<ParamsOf<typeof updateMeParams>>)   // ctx.params: { name?: string }
 *
 * What the project's params use is mapped: the shorthands ("string", "number|optional", …),
 * `string`/`email`/`url`/`uuid`, `number`, `boolean`, `date` (a Date once converted), `enum`
 * (its `values`), `equal` (its `value`), `array` (of its `items`), `object` (of its `props`),
 * `multi` (any of its `rules`; an array of rules is its shorthand), `any`. A rule is optional
 * with `optional: true` unless it has a `default` (the validator fills it in); `nullable: true`
 * adds null. `$$strict` and the other `$$` options are no fields.
 */

type TypeNamed<Name> = Name extends "string" | "email" | "url" | "uuid"
  ? string
  : Name extends "number"
    ? number
    : Name extends "boolean"
      ? boolean
      : Name extends "date"
        ? Date
        : Name extends "array"
          ? unknown[]
          : Name extends "object"
            ? Record<string, unknown>
            : unknown;

/** "number|integer|optional" → "number" */
type ShorthandName<Rule extends string> = Rule extends `${infer Name}|${string}` ? Name : Rule;

type ValueOfObjectRule<Rule> = Rule extends { type: "enum"; values: readonly (infer Value)[] }
  ? Value
  : Rule extends { type: "equal"; value: infer Value }
    ? Value
    : Rule extends { type: "array"; items: infer Items }
      ? RuleValue<Items>[]
      : Rule extends { type: "object"; props: infer Props }
        ? ParamsOf<Props>
        : Rule extends { type: "multi"; rules: readonly (infer Each)[] }
          ? RuleValue<Each>
          : Rule extends { type: infer Name }
            ? TypeNamed<Name>
            : unknown;

/** The value a rule lets through; an array of rules is `multi`'s shorthand (any of them). */
type RuleValue<Rule> = Rule extends string
  ? TypeNamed<ShorthandName<Rule>>
  : Rule extends readonly (infer Each)[]
    ? RuleValue<Each>
    : Rule extends { nullable: true }
      ? ValueOfObjectRule<Rule> | null
      : ValueOfObjectRule<Rule>;

type IsOptional<Rule> = Rule extends string
  ? Rule extends `${string}|optional${string}`
    ? true
    : false
  : Rule extends { default: unknown }
    ? false
    : Rule extends { optional: true }
      ? true
      : false;

type FieldName<Schema> = Exclude<keyof Schema, `$$${string}`>;
type OptionalField<Schema> = {
  [K in FieldName<Schema>]: IsOptional<Schema[K]> extends true ? K : never;
}[FieldName<Schema>];
type RequiredField<Schema> = Exclude<FieldName<Schema>, OptionalField<Schema>>;

/** Spells an intersection of object types out as one (readable in editors' hovers and errors). */
type Spelled<T> = { [K in keyof T]: T[K] };

export type ParamsOf<Schema> = Spelled<
  { -readonly [K in RequiredField<Schema>]: RuleValue<Schema[K]> } & {
    -readonly [K in OptionalField<Schema>]?: RuleValue<Schema[K]>;
  }
>;
