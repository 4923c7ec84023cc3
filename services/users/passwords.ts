import diagnostics_channel from "node:diagnostics_channel";
import fs from "node:fs";
import path from "node:path";
import { hash, parseOptions, verify, type Algorithm, type Options } from "@node-rs/argon2";
import { normaliseEmail, passwordParam } from "../../models/user.model";

/**
 * Password hashing and policy (shared/design/security.md lines 1–2).
 *
 * Argon2id at OWASP's minimum (m = 19 MiB, t = 2, p = 1). @node-rs/argon2's async
 * functions run on libuv's thread pool, so a login's hash never blocks other requests.
 * The PHC string records the parameters; `needsRehash` compares them with the current
 * policy so raising the parameters here upgrades every account at its next login.
 */

// A `const enum` in the package's typings has no runtime object under swc/tsx.
const ARGON2ID = 2 as Algorithm;

export const PASSWORD_HASH_OPTIONS: Readonly<Options> = Object.freeze({
  algorithm: ARGON2ID,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
});

const PASSWORD_MIN_LENGTH = 10;
const PASSWORD_MAX_LENGTH = 128;

export function hashPassword(password: string): Promise<string> {
  return hash(password, PASSWORD_HASH_OPTIONS);
}

/**
 * Publishes the Argon2 parameters of each verification (what the enumeration proof observes);
 * with no subscriber, publishing costs nothing and nothing is kept.
 */
export const PASSWORD_VERIFICATIONS = diagnostics_channel.channel(
  "lingomesh.users.password-verify",
);

export interface PasswordVerification {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** False (never throws) for a hash that is malformed: a corrupt row must not become a 500 with details. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    const { memoryCost, timeCost, parallelism } = parseOptions(passwordHash);
    if (PASSWORD_VERIFICATIONS.hasSubscribers) {
      const used: PasswordVerification = { memoryCost, timeCost, parallelism };
      PASSWORD_VERIFICATIONS.publish(used);
    }
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

export function needsRehash(passwordHash: string): boolean {
  try {
    const used = parseOptions(passwordHash);
    return (
      used.algorithm !== PASSWORD_HASH_OPTIONS.algorithm ||
      used.memoryCost < (PASSWORD_HASH_OPTIONS.memoryCost as number) ||
      used.timeCost < (PASSWORD_HASH_OPTIONS.timeCost as number) ||
      used.parallelism !== PASSWORD_HASH_OPTIONS.parallelism
    );
  } catch {
    return true;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * A hash of a random password with the current parameters: verifying against it costs
 * what verifying a real account costs, so an unknown email takes as long as a wrong password.
 */
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(`dummy-${process.hrtime.bigint()}-${Math.random()}`);
  return dummyHash;
}

let commonPasswords: Set<string> | undefined;

/** The 10 000 most common passwords, shipped in the repo (lib/auth/data/README.md says where from). */
export function commonPasswordList(): Set<string> {
  if (!commonPasswords) {
    const file = path.join(__dirname, "..", "..", "lib", "auth", "data", "common-passwords.txt");
    const lines = fs.readFileSync(file, "utf8").split("\n");
    commonPasswords = new Set(lines.filter(line => line !== "").map(line => line.toLowerCase()));
  }
  return commonPasswords;
}

export interface PasswordProblem {
  field: string;
  type:
    | "passwordTooShort"
    | "passwordTooLong"
    | "passwordControlCharacters"
    | "passwordTrivial"
    | "passwordTooCommon"
    | "passwordIsEmail";
  message: string;
}

/** Control characters (NUL, tabs, line breaks, DEL, C1) and unpaired surrogates: nothing a keyboard types. */
const UNTYPABLE = /[\p{Cc}\p{Cs}]/u;

/**
 * One character over and over, or nothing but white space: ten spaces or `aaaaaaaaaa` pass
 * the length rule and no list of common passwords holds every such string.
 */
function isTrivial(password: string): boolean {
  return new Set(password).size === 1 || /^\s+$/u.test(password);
}

/**
 * The policy: 10–128 characters as typed (no trimming, no composition rules), no control
 * characters, not one character repeated nor only white space, not one of the common
 * passwords (compared case-insensitively, which is stricter), not the email.
 * Length counts code points so an emoji is one character, as the user sees it.
 */
export function passwordProblems(
  password: string,
  field = "password",
  email?: string,
): PasswordProblem[] {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) {
    return [
      {
        field,
        type: "passwordTooShort",
        message: `The '${field}' field must be at least ${PASSWORD_MIN_LENGTH} characters long.`,
      },
    ];
  }
  if (length > PASSWORD_MAX_LENGTH) {
    return [
      {
        field,
        type: "passwordTooLong",
        message: `The '${field}' field must be at most ${PASSWORD_MAX_LENGTH} characters long.`,
      },
    ];
  }
  if (UNTYPABLE.test(password)) {
    return [
      {
        field,
        type: "passwordControlCharacters",
        message: `The '${field}' field must not contain control characters such as NUL, tabs or line breaks.`,
      },
    ];
  }
  if (isTrivial(password)) {
    return [
      {
        field,
        type: "passwordTrivial",
        message: `The '${field}' field must not be one character repeated or only white space.`,
      },
    ];
  }
  const lowered = password.toLowerCase();
  if (commonPasswordList().has(lowered)) {
    return [
      {
        field,
        type: "passwordTooCommon",
        message: `The '${field}' field is one of the most common passwords; choose another.`,
      },
    ];
  }
  if (email !== undefined && lowered === email.toLowerCase()) {
    return [
      {
        field,
        type: "passwordIsEmail",
        message: `The '${field}' field must not be the email address.`,
      },
    ];
  }
  return [];
}

/**
 * The params rule of a new password: the policy runs in the action's validation pass, so
 * a 422 lists every field's problem at once (a bad email and a short password together)
 * instead of stopping at the first field. `emailField` names the sibling field the password
 * must not equal (register); where the email is the account's, the action checks that.
 * Its problems never echo the password.
 */
export function newPasswordParam(emailField?: string) {
  return {
    ...passwordParam,
    custom(
      value: unknown,
      errors: PasswordProblem[],
      _schema: unknown,
      field: string,
      parent: Record<string, unknown> | null,
      context: { data?: Record<string, unknown> },
    ): unknown {
      // Not a string, or past the params' hard cap: the built-in rule has said so already.
      if (typeof value !== "string" || value.length > passwordParam.max) return value;
      // fastest-validator passes no parent for top-level params: the params are the data.
      const email = emailField ? (parent ?? context.data)?.[emailField] : undefined;
      errors.push(
        ...passwordProblems(
          value,
          field,
          typeof email === "string" ? normaliseEmail(email) : undefined,
        ),
      );
      return value;
    },
  };
}
