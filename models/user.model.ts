import {
  DataTypes,
  type Model,
  type ModelAttributes,
  type ModelStatic,
  type Optional,
} from "sequelize";
import { ROLES, type Role } from "./auth.model";
import type { CefrLevel } from "./course.model";

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
  /** Null for an account made by a provider sign-in, which has no password (yet). */
  passwordHash: string | null;
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
  status: AccountStatus;
  suspendedReason: string | null;
  profileVisibility: ProfileVisibility;
  /** BCP 47 tag of the language mails and pages are shown in; null: the deployment's default. */
  locale: string | null;
  newCardsPerDay: number;
  quietHours: QuietHours | null;
  /** An address asked for with POST /me/email, waiting for its verification link. */
  pendingEmail: string | null;
  /** The CEFR level of the latest placement test (progress.placement.completed); null before one. */
  level: CefrLevel | null;
}

type AccountStatus = "active" | "suspended";
const PROFILE_VISIBILITIES = ["public", "followers", "private"] as const;
export type ProfileVisibility = (typeof PROFILE_VISIBILITIES)[number];
/** Local times (HH:MM, the user's time zone) between which nothing is pushed; may wrap midnight. */
interface QuietHours {
  start: string;
  end: string;
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
  | "status"
  | "suspendedReason"
  | "profileVisibility"
  | "locale"
  | "newCardsPerDay"
  | "quietHours"
  | "pendingEmail"
  | "level"
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
  locale: string | null;
  profileVisibility: ProfileVisibility;
  newCardsPerDay: number;
  quietHours: QuietHours | null;
  /** The CEFR level the placement test found (POST /placement); null before one. */
  level: CefrLevel | null;
  createdAt: string;
}

/** GET /users/:id: the profile as an admin sees it, with the account's standing. */
export interface AdminUserView extends UserProfile {
  status: AccountStatus;
  suspendedReason: string | null;
}

/** What one user may see of another (search, followers, following). */
export interface PublicProfile {
  id: string;
  name: string;
  avatarUrl: string | null;
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
  /** How many new flashcards enter the learner's due list a day; absent (an older users node): 20. */
  newCardsPerDay?: number;
}

const DEFAULT_TIMEZONE = "UTC";
const DEFAULT_DAILY_GOAL_XP = 20;
const DEFAULT_NEW_CARDS_PER_DAY = 20;
/** Found by search and named to everyone; the details (XP, streak, achievements) only to followers. */
const DEFAULT_PROFILE_VISIBILITY: ProfileVisibility = "followers";

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
    locale: user.locale,
    profileVisibility: user.profileVisibility,
    newCardsPerDay: user.newCardsPerDay,
    quietHours: user.quietHours,
    level: user.level ?? null,
    createdAt: new Date(user.createdAt).toISOString(),
  };
}

export function toAdminView(user: UserRow): AdminUserView {
  return { ...toProfile(user), status: user.status, suspendedReason: user.suspendedReason };
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
    newCardsPerDay: user.newCardsPerDay,
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

/**
 * The language a new account starts with: the first tag of an `Accept-Language` header by
 * its weight (RFC 9110 12.5.4), `*` and malformed entries skipped; null when none is usable.
 * The mails fall back from it key by key (`es-MX` → `es` → English).
 */
export function preferredLanguage(acceptLanguage: string | undefined): string | null {
  if (!acceptLanguage) return null;
  const ranked = acceptLanguage
    .slice(0, 1000)
    .split(",")
    .map((entry, order) => {
      const [tag = "", ...options] = entry.trim().split(";");
      const weight = options.map(o => /^\s*q=([01](?:\.\d{0,3})?)\s*$/.exec(o)).find(Boolean);
      return { tag: tag.trim(), q: weight ? Number(weight[1]) : 1, order };
    })
    .filter(({ tag, q }) => q > 0 && tag !== "*" && tag.length <= 35 && isLanguageTag(tag))
    .sort((a, b) => b.q - a.q || a.order - b.order);
  return ranked[0] ? Intl.getCanonicalLocales(ranked[0].tag)[0] : null;
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

const clockTimeParam = {
  type: "string",
  pattern: /^([01]\d|2[0-3]):[0-5]\d$/,
  messages: { stringPattern: "The '{field}' field must be a time of day such as '22:00'." },
} as const;

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
  profileVisibility: { type: "enum", values: [...PROFILE_VISIBILITIES], optional: true },
  locale: {
    type: "string",
    min: 2,
    max: 35,
    optional: true,
    custom: languageCheck,
    messages: {
      languageTag: "The '{field}' field must be a language tag such as 'en' or 'pt-BR'.",
    },
  },
  newCardsPerDay: { type: "number", integer: true, min: 0, max: 500, optional: true },
  quietHours: {
    type: "multi",
    optional: true,
    rules: [
      {
        type: "object",
        strict: true,
        props: { start: clockTimeParam, end: clockTimeParam },
      },
      { type: "equal", value: null },
    ],
  },
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
  passwordHash: { type: DataTypes.TEXT, allowNull: true, field: "password_hash" },
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
  status: { type: DataTypes.TEXT, allowNull: false, defaultValue: "active" },
  suspendedReason: { type: DataTypes.TEXT, allowNull: true, field: "suspended_reason" },
  profileVisibility: {
    type: DataTypes.TEXT,
    allowNull: false,
    defaultValue: DEFAULT_PROFILE_VISIBILITY,
    field: "profile_visibility",
  },
  locale: { type: DataTypes.TEXT, allowNull: true },
  newCardsPerDay: {
    type: DataTypes.INTEGER,
    allowNull: false,
    defaultValue: DEFAULT_NEW_CARDS_PER_DAY,
    field: "new_cards_per_day",
  },
  quietHours: { type: DataTypes.JSONB, allowNull: true, field: "quiet_hours" },
  pendingEmail: { type: DataTypes.TEXT, allowNull: true, field: "pending_email" },
  level: { type: DataTypes.TEXT, allowNull: true },
};
