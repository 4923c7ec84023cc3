import {
  DataTypes,
  type Model,
  type ModelAttributes,
  type ModelStatic,
  type Optional,
} from "sequelize";
import { ROLES, type Role } from "./auth.model";

/** One row of users.users: the account, its credentials and its profile. */
export interface UserRow {
  id: string;
  /** Stored normalised (trimmed, lower case): the unique index makes emails unique case-insensitively. */
  email: string;
  name: string;
  avatarUrl: string | null;
  timezone: string;
  nativeLanguage: string | null;
  dailyGoalXp: number;
  roles: Role[];
  passwordHash: string;
  emailVerified: boolean;
  mfaEnabled: boolean;
  mfaSecret: string | null;
  /** Secret of an MFA setup not yet confirmed with a code. */
  mfaPendingSecret: string | null;
  /** Last TOTP time step accepted: a code of that step or an earlier one is refused (no replay). */
  mfaLastStep: number | null;
  passwordChangedAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

export type UserCreation = Optional<
  UserRow,
  | "avatarUrl"
  | "timezone"
  | "nativeLanguage"
  | "dailyGoalXp"
  | "roles"
  | "emailVerified"
  | "mfaEnabled"
  | "mfaSecret"
  | "mfaPendingSecret"
  | "mfaLastStep"
  | "passwordChangedAt"
  | "createdAt"
  | "updatedAt"
>;
/** A user row as Sequelize holds it. */
export type UserEntity = Model<UserRow, UserCreation>;
export type UserModel = ModelStatic<UserEntity>;

/** GET /me, PUT /users/:id/roles and the admin list: the account as its owner or an admin sees it. */
export interface UserProfile {
  id: string;
  email: string;
  name: string;
  avatarUrl: string | null;
  roles: Role[];
  timezone: string;
  nativeLanguage: string | null;
  dailyGoalXp: number;
  emailVerified: boolean;
  mfaEnabled: boolean;
  createdAt: string;
}

/** What other services learn about a user (users.profiles): no credentials, no roles. */
export interface UserSummary {
  id: string;
  email: string;
  name: string;
  timezone: string;
  dailyGoalXp: number;
  emailVerified: boolean;
  nativeLanguage: string | null;
}

const DEFAULT_TIMEZONE = "UTC";
const DEFAULT_DAILY_GOAL_XP = 20;

export function toProfile(user: UserRow): UserProfile {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    avatarUrl: user.avatarUrl,
    roles: user.roles,
    timezone: user.timezone,
    nativeLanguage: user.nativeLanguage,
    dailyGoalXp: user.dailyGoalXp,
    emailVerified: user.emailVerified,
    mfaEnabled: user.mfaEnabled,
    createdAt: new Date(user.createdAt).toISOString(),
  };
}

export function toSummary(user: UserRow): UserSummary {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    timezone: user.timezone,
    dailyGoalXp: user.dailyGoalXp,
    emailVerified: user.emailVerified,
    nativeLanguage: user.nativeLanguage,
  };
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function isIanaTimezone(value: string): boolean {
  try {
    // Intl knows the IANA database; it throws a RangeError for anything else.
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return value.length <= 64;
  } catch {
    return false;
  }
}

function isLanguageTag(value: string): boolean {
  try {
    return Intl.getCanonicalLocales(value).length === 1;
  } catch {
    return false;
  }
}

type Check = (value: unknown, errors: Array<{ type: string; actual?: unknown }>) => unknown;

const timezoneCheck: Check = (value, errors) => {
  if (typeof value === "string" && !isIanaTimezone(value)) errors.push({ type: "timezone" });
  return value;
};

const languageCheck: Check = (value, errors) => {
  if (typeof value === "string" && !isLanguageTag(value)) errors.push({ type: "languageTag" });
  return value;
};

/** Fields of the profile a user may change (PATCH /me); anything else is refused by `$$strict`. */
export const profileUpdateParams = {
  $$strict: true,
  name: { type: "string", trim: true, min: 1, max: 100, optional: true },
  avatarUrl: {
    type: "multi",
    optional: true,
    rules: [
      { type: "url", max: 2048 },
      { type: "equal", value: null },
    ],
  },
  timezone: {
    type: "string",
    max: 64,
    optional: true,
    custom: timezoneCheck,
    messages: { timezone: "The '{field}' field must be an IANA time zone such as 'Europe/Paris'." },
  },
  nativeLanguage: {
    type: "multi",
    optional: true,
    rules: [
      {
        type: "string",
        min: 2,
        max: 35,
        custom: languageCheck,
        messages: {
          languageTag: "The '{field}' field must be a language tag such as 'es' or 'pt-BR'.",
        },
      },
      { type: "equal", value: null },
    ],
  },
  dailyGoalXp: { type: "number", integer: true, min: 1, max: 1000, optional: true },
} as const;

export const emailParam = { type: "email", max: 254 } as const;
export const nameParam = { type: "string", trim: true, min: 1, max: 100 } as const;
/** Length is checked by the password policy (services/users/passwords.ts), never by trimming. */
export const passwordParam = { type: "string", max: 1024 } as const;
export const rolesParam = {
  type: "array",
  min: 1,
  max: ROLES.length,
  unique: true,
  items: { type: "enum", values: [...ROLES] },
} as const;

export const userAttributes: ModelAttributes<Model<UserRow, UserCreation>, UserRow> = {
  id: { type: DataTypes.UUID, primaryKey: true },
  email: { type: DataTypes.TEXT, allowNull: false, unique: true },
  name: { type: DataTypes.TEXT, allowNull: false },
  avatarUrl: { type: DataTypes.TEXT, allowNull: true, field: "avatar_url" },
  timezone: { type: DataTypes.TEXT, allowNull: false, defaultValue: DEFAULT_TIMEZONE },
  nativeLanguage: { type: DataTypes.TEXT, allowNull: true, field: "native_language" },
  dailyGoalXp: {
    type: DataTypes.INTEGER,
    allowNull: false,
    defaultValue: DEFAULT_DAILY_GOAL_XP,
    field: "daily_goal_xp",
  },
  roles: { type: DataTypes.ARRAY(DataTypes.TEXT), allowNull: false, defaultValue: ["learner"] },
  passwordHash: { type: DataTypes.TEXT, allowNull: false, field: "password_hash" },
  emailVerified: {
    type: DataTypes.BOOLEAN,
    allowNull: false,
    defaultValue: false,
    field: "email_verified",
  },
  mfaEnabled: {
    type: DataTypes.BOOLEAN,
    allowNull: false,
    defaultValue: false,
    field: "mfa_enabled",
  },
  mfaSecret: { type: DataTypes.TEXT, allowNull: true, field: "mfa_secret" },
  mfaPendingSecret: { type: DataTypes.TEXT, allowNull: true, field: "mfa_pending_secret" },
  mfaLastStep: { type: DataTypes.INTEGER, allowNull: true, field: "mfa_last_step" },
  passwordChangedAt: {
    type: DataTypes.DATE,
    allowNull: false,
    defaultValue: DataTypes.NOW,
    field: "password_changed_at",
  },
  createdAt: { type: DataTypes.DATE, allowNull: false, field: "created_at" },
  updatedAt: { type: DataTypes.DATE, allowNull: false, field: "updated_at" },
};
