import { DataTypes, type Model, type ModelStatic, type Optional, type Sequelize } from "sequelize";

/**
 * A session is one login on one device and the family of every refresh token rotated
 * from it: reuse of a rotated token revokes the session, and with it the family.
 */
export interface SessionRow {
  id: string;
  userId: string;
  createdAt: Date;
  lastUsedAt: Date;
  /** The absolute end: createdAt + SESSION_ABSOLUTE_DAYS, whatever the use. */
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
  revokedAt: Date | null;
  revokedReason: SessionRevocation | null;
}

export type SessionRevocation =
  "logout" | "revoked" | "reuse" | "password_change" | "password_reset" | "suspended" | "erased";

/** A refresh token is stored only as its SHA-256 digest; `usedAt` set = rotated away. */
interface RefreshTokenRow {
  tokenHash: string;
  sessionId: string;
  createdAt: Date;
  usedAt: Date | null;
}

export type OneTimePurpose = "verify" | "reset" | "email_change";

/** Email-verification and password-reset tokens: digest only, single use, short-lived. */
interface OneTimeTokenRow {
  tokenHash: string;
  userId: string;
  purpose: OneTimePurpose;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
}

interface RecoveryCodeRow {
  userId: string;
  codeHash: string;
  usedAt: Date | null;
}

/** GET /auth/sessions. */
export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

type SessionModel = ModelStatic<
  Model<SessionRow, Optional<SessionRow, "revokedAt" | "revokedReason">>
>;
type RefreshTokenModel = ModelStatic<Model<RefreshTokenRow, Optional<RefreshTokenRow, "usedAt">>>;
type OneTimeTokenModel = ModelStatic<Model<OneTimeTokenRow, Optional<OneTimeTokenRow, "usedAt">>>;
type RecoveryCodeModel = ModelStatic<Model<RecoveryCodeRow, Optional<RecoveryCodeRow, "usedAt">>>;

export type SessionModels = {
  Session: SessionModel;
  RefreshToken: RefreshTokenModel;
  OneTimeToken: OneTimeTokenModel;
  RecoveryCode: RecoveryCodeModel;
};

const when = (field: string, allowNull = false) => ({ type: DataTypes.DATE, allowNull, field });

export function defineSessionModels(sequelize: Sequelize, schema: string): SessionModels {
  const common = { schema, timestamps: false, freezeTableName: true };
  const Session: SessionModel = sequelize.define(
    "Session",
    {
      id: { type: DataTypes.UUID, primaryKey: true },
      userId: { type: DataTypes.UUID, allowNull: false, field: "user_id" },
      createdAt: when("created_at"),
      lastUsedAt: when("last_used_at"),
      expiresAt: when("expires_at"),
      userAgent: { type: DataTypes.TEXT, allowNull: true, field: "user_agent" },
      ip: { type: DataTypes.TEXT, allowNull: true },
      revokedAt: when("revoked_at", true),
      revokedReason: { type: DataTypes.TEXT, allowNull: true, field: "revoked_reason" },
    },
    { ...common, tableName: "sessions" },
  );
  const RefreshToken: RefreshTokenModel = sequelize.define(
    "RefreshToken",
    {
      tokenHash: { type: DataTypes.TEXT, primaryKey: true, field: "token_hash" },
      sessionId: { type: DataTypes.UUID, allowNull: false, field: "session_id" },
      createdAt: when("created_at"),
      usedAt: when("used_at", true),
    },
    { ...common, tableName: "refresh_tokens" },
  );
  const OneTimeToken: OneTimeTokenModel = sequelize.define(
    "OneTimeToken",
    {
      tokenHash: { type: DataTypes.TEXT, primaryKey: true, field: "token_hash" },
      userId: { type: DataTypes.UUID, allowNull: false, field: "user_id" },
      purpose: { type: DataTypes.TEXT, allowNull: false },
      createdAt: when("created_at"),
      expiresAt: when("expires_at"),
      usedAt: when("used_at", true),
    },
    { ...common, tableName: "one_time_tokens" },
  );
  const RecoveryCode: RecoveryCodeModel = sequelize.define(
    "RecoveryCode",
    {
      userId: { type: DataTypes.UUID, primaryKey: true, field: "user_id" },
      codeHash: { type: DataTypes.TEXT, primaryKey: true, field: "code_hash" },
      usedAt: when("used_at", true),
    },
    { ...common, tableName: "recovery_codes" },
  );
  return { Session, RefreshToken, OneTimeToken, RecoveryCode };
}
