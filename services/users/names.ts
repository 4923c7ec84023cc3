import { nameParam } from "../../models/user.model";

/**
 * What a display name may not hold: it is shown to other users (leaderboards, profiles, mails),
 * so a line break could forge a line of a mail or a log, and a text-direction control
 * (U+202A–U+202E embeddings and overrides, U+2066–U+2069 isolates, U+200E/U+200F/U+061C marks)
 * could make it read as someone else's or reorder the text around it. Control characters,
 * line and paragraph separators and unpaired surrogates are refused with them.
 */
const NOT_IN_A_NAME = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

interface NameProblem {
  type: "nameCharacters";
  field: string;
  message: string;
}

function nameCheck(value: unknown, errors: NameProblem[], _schema: unknown, field: string) {
  if (typeof value === "string" && NOT_IN_A_NAME.test(value)) {
    errors.push({
      type: "nameCharacters",
      field,
      message: `The '${field}' field must not contain control characters, line breaks or text-direction controls.`,
    });
  }
  return value;
}

/** The display name rule of register (required) and PATCH /me (optional). */
export const displayNameParam = { ...nameParam, custom: nameCheck } as const;
export const optionalDisplayNameParam = { ...displayNameParam, optional: true } as const;
