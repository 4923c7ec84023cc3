import Validator from "fastest-validator";
import type { ParamsOf } from "../../lib/params-of";
import { idParam, pageParams, type IdInput, type PageInput } from "../../lib/params";
import { analyticsDaysParam } from "../../models/analytics.model";
import type { AttemptAnswer } from "../../models/attempt.model";
import type { CheckoutInput } from "../../models/billing.model";
import {
  createCourseParams,
  listCoursesParams,
  type CreateCourseInput,
  type ListCoursesInput,
} from "../../models/course.model";
import type { AnswerValue } from "../../models/progress.model";

/**
 * lib/params-of.ts: the input type of an action derived from its params. The type assertions
 * are checked by `tsc` (npm run lint): `Expect<Equal<A, B>>` does not compile unless A and B
 * are the same type. The tests run the same schemas through fastest-validator, so what the
 * type says is what the validator lets through.
 */

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

const everyRule = {
  $$strict: true,
  name: "string",
  nickname: "string|min:2|optional",
  email: { type: "email" },
  site: { type: "url", optional: true },
  age: { type: "number", integer: true, convert: true },
  admin: { type: "boolean", optional: true, default: false },
  since: { type: "date", convert: true, optional: true },
  level: { type: "enum", values: ["A1", "A2"] },
  tags: { type: "array", items: { type: "string" } },
  address: {
    type: "object",
    props: { city: "string", zip: { type: "string", optional: true } },
  },
  extra: { type: "object", optional: true },
  unitId: { type: "string", nullable: true },
  avatar: {
    type: "multi",
    optional: true,
    rules: [{ type: "url" }, { type: "equal", value: null }],
  },
  answer: [{ type: "string" }, { type: "array", items: "string" }],
} as const;

type EveryRuleInput = ParamsOf<typeof everyRule>;

export type ParamsTypeAssertions = [
  Expect<
    Equal<
      EveryRuleInput,
      {
        name: string;
        nickname?: string;
        email: string;
        site?: string;
        age: number;
        admin: boolean;
        since?: Date;
        level: "A1" | "A2";
        tags: string[];
        address: { city: string; zip?: string };
        extra?: Record<string, unknown>;
        unitId: string | null;
        avatar?: string | null;
        answer: string | string[];
      }
    >
  >,
  Expect<Equal<IdInput, { id: string }>>,
  Expect<Equal<PageInput, { page: number; pageSize: number }>>,
  Expect<Equal<ParamsOf<{ days: typeof analyticsDaysParam }>, { days: number }>>,
  Expect<
    Equal<CheckoutInput, { planId: string; successUrl: string; cancelUrl: string; coupon?: string }>
  >,
  Expect<Equal<CreateCourseInput["level"], "A1" | "A2" | "B1" | "B2" | "C1" | "C2">>,
  Expect<Equal<ListCoursesInput["mine"], boolean | undefined>>,
  // An array of rules (fastest-validator's `multi` shorthand): a lesson answer's value.
  Expect<Equal<AttemptAnswer, { questionId: string; value: AnswerValue }>>,
  // A field the schema lacks is no field of the input.
  Expect<Equal<"ownerId" extends keyof CreateCourseInput ? true : false, false>>,
];

describe("ParamsOf (lib/params-of.ts)", () => {
  const v = new Validator();

  test("when a value passes the schema, then it has the fields the derived type names (defaults filled in)", async () => {
    const check = v.compile(everyRule);
    const input: Record<string, unknown> = {
      name: "Ada",
      email: "ada@example.com",
      age: "36",
      level: "A2",
      tags: ["x"],
      address: { city: "Paris" },
      unitId: null,
      answer: ["a", "b"],
    };
    expect(await check(input)).toBe(true);
    const typed: EveryRuleInput = {
      name: "Ada",
      email: "ada@example.com",
      age: 36,
      admin: false,
      level: "A2",
      tags: ["x"],
      address: { city: "Paris" },
      unitId: null,
      answer: ["a", "b"],
    };
    expect(input).toEqual(typed);
  });

  test("when a required field of the type is missing, then the schema refuses the value", async () => {
    const problems = await v.compile(createCourseParams)({ level: "B1" });
    expect(problems).not.toBe(true);
    expect(Array.isArray(problems) && problems.map(p => p.field)).toEqual(["title"]);
  });

  test("when the shared page params meet an empty query, then both fields are there, as PageInput says", async () => {
    const query: Record<string, unknown> = {};
    expect(await v.compile({ ...pageParams })(query)).toBe(true);
    const page: PageInput = { page: 1, pageSize: 20 };
    expect(query).toEqual(page);
    expect(await v.compile({ ...idParam })({ id: "" })).not.toBe(true);
    expect(await v.compile({ ...listCoursesParams })({ mine: "true" })).toBe(true);
  });
});
