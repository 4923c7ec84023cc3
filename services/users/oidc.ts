import type { Context } from "moleculer";
import { Errors } from "moleculer";
import * as oidc from "openid-client";
import type { JWTPayload } from "jose";
import { v7 as uuidv7 } from "uuid";
import { isUniqueViolation } from "../../lib/db/sql";
import type { RequestMeta } from "../../models/auth.model";
import { normaliseEmail, preferredLanguage, type UserRow } from "../../models/user.model";
import {
  createAccount,
  ensureActive,
  findByEmail,
  findUser,
  requireSecondFactor,
  signIn,
  type AuthAnswer,
} from "./accounts";
import type { UsersDeps } from "./deps";
import {
  accountExists,
  identityNotFound,
  identityTaken,
  invalidExchangeCode,
  invalidIdToken,
  invalidOidcState,
  lastSignInMethod,
  providerEmailMissing,
  providerNotFound,
  providerUnavailable,
  redirectUriNotAllowed,
  userNotFound,
} from "./errors";
import { callbackUrl, type OidcProvider } from "./oidc-providers";
import {
  deleteIdentity,
  findIdentity,
  identitiesOf,
  insertIdentity,
  type IdentityRow,
} from "./store/identities";
import {
  claimExchangeCode,
  claimNonce,
  peekExchangeCode,
  saveExchangeCode,
  saveFlow,
  takeFlow,
} from "./store/oidc-flows";
import { digest, newOpaqueToken } from "./tokens";
import { emitUserEvent } from "./user-events";
import type { Transaction } from "sequelize";

/**
 * Sign-in with OpenID Connect providers (api.md "Identity, continued"; security.md line 26).
 * Browser/app flow: start → the provider → callback → a one-time code → exchange. Native flow:
 * an ID token from the provider's SDK, verified here. Accounts are matched by (issuer, sub);
 * a first sign-in whose email is an account here links to it only when both sides verified it.
 */

type Ctx = Pick<Context<unknown, RequestMeta>, "meta" | "requestID">;

/** state, nonce and the PKCE verifier are kept this long (api.md). */
const FLOW_TTL_MS = 10 * 60 * 1000;
/** The code the callback hands the app: single use, this short-lived (api.md). */
const EXCHANGE_CODE_TTL_MS = 60 * 1000;
const SCOPE = "openid email profile";
const NAME_MAX = 100;

export interface ProviderAnswer extends AuthAnswer {
  /** True when this sign-in made the account. */
  created: boolean;
}

export interface IdentityView {
  id: string;
  provider: string;
  email: string | null;
  linkedAt: string;
}

export interface CallbackQuery {
  code?: string;
  state?: string;
  iss?: string;
  error?: string;
  error_description?: string;
}

function providerOf(deps: UsersDeps, id: string): OidcProvider {
  const provider = deps.oidc.get(id);
  if (!provider) throw providerNotFound(id);
  return provider;
}

async function configurationOf(deps: UsersDeps, provider: OidcProvider) {
  try {
    return await provider.configuration();
  } catch (err) {
    deps.logger.warn(`oidc: discovery of ${provider.id} failed: ${(err as Error).message}`);
    throw providerUnavailable();
  }
}

export function listProviders(deps: UsersDeps): Array<{ id: string; name: string }> {
  return deps.oidc.list();
}

/** The authorization URL of a new flow (code + PKCE S256, state, nonce), for sign-in or to link. */
export async function startFlow(
  deps: UsersDeps,
  providerId: string,
  redirectUri: string,
  linkUserId: string | null,
): Promise<{ authorizationUrl: string }> {
  const provider = providerOf(deps, providerId);
  if (!deps.cfg.authRedirectUris.includes(redirectUri)) throw redirectUriNotAllowed();
  const configuration = await configurationOf(deps, provider);
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  await saveFlow(deps.db, {
    stateHash: digest(state),
    provider: provider.id,
    codeVerifier,
    nonce,
    redirectUri,
    linkUserId,
    expiresAt: new Date(Date.now() + FLOW_TTL_MS),
  });
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: callbackUrl(deps.cfg, provider.id),
    scope: SCOPE,
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
  });
  return { authorizationUrl: url.href };
}

function withQuery(base: string, values: Record<string, string>): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(values)) url.searchParams.set(name, value);
  return url.href;
}

/** The provider's claims of a finished authorization: the ID token's, completed by userinfo. */
async function claimsOfCallback(
  configuration: oidc.Configuration,
  provider: OidcProvider,
  deps: UsersDeps,
  query: CallbackQuery,
  flow: { codeVerifier: string; nonce: string },
): Promise<JWTPayload> {
  const current = new URL(callbackUrl(deps.cfg, provider.id));
  for (const name of ["code", "state", "iss"] as const) {
    const value = query[name];
    if (value !== undefined) current.searchParams.set(name, value);
  }
  const tokens = await oidc.authorizationCodeGrant(configuration, current, {
    pkceCodeVerifier: flow.codeVerifier,
    expectedState: query.state,
    expectedNonce: flow.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  if (!claims) throw new Error("no ID token in the token answer");
  if (typeof claims.email === "string") return claims;
  // Providers may keep scope claims out of the ID token when an access token is issued.
  const info = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
  return { ...info, ...claims };
}

/**
 * The provider's callback: always a redirect to the flow's own redirect URI — `?code=` for a
 * sign-in, `?linked=<provider>` for a link, `?error=<type>` when it failed — except for a
 * `state` we do not hold (400): then there is no allow-listed place to send the browser.
 */
export async function finishFlow(
  deps: UsersDeps,
  providerId: string,
  query: CallbackQuery,
  ctx: Ctx,
): Promise<string> {
  const provider = providerOf(deps, providerId);
  const flow = query.state ? await takeFlow(deps.db, digest(query.state)) : undefined;
  if (!flow || flow.provider !== provider.id) throw invalidOidcState();
  if (query.error !== undefined || query.code === undefined) {
    const type = query.error === "access_denied" ? "ACCESS_DENIED" : "PROVIDER_ERROR";
    return withQuery(flow.redirectUri, { error: type });
  }
  let claims: JWTPayload;
  try {
    const configuration = await configurationOf(deps, provider);
    claims = await claimsOfCallback(configuration, provider, deps, query, flow);
  } catch (err) {
    // The reason is the library's (state, nonce, PKCE, signature…); nothing secret is in it.
    deps.logger.warn(`oidc: ${provider.id} callback refused: ${(err as Error).message}`);
    return withQuery(flow.redirectUri, { error: "PROVIDER_REJECTED" });
  }
  try {
    if (flow.linkUserId !== null) {
      await linkIdentity(deps, flow.linkUserId, provider, claims, ctx);
      return withQuery(flow.redirectUri, { linked: provider.id });
    }
    const { user, created } = await accountFor(deps, provider, claims, ctx);
    const code = newOpaqueToken();
    await deps.withTransaction(t =>
      saveExchangeCode(deps.db, t, digest(code), {
        userId: user.id,
        created,
        expiresAt: new Date(Date.now() + EXCHANGE_CODE_TTL_MS),
      }),
    );
    return withQuery(flow.redirectUri, { code });
  } catch (err) {
    if (err instanceof Errors.MoleculerClientError && typeof err.type === "string") {
      return withQuery(flow.redirectUri, { error: err.type });
    }
    throw err;
  }
}

/** POST /auth/oidc/exchange: the callback's one-time code for our own tokens (MFA still applies). */
export async function exchangeCode(
  deps: UsersDeps,
  code: string,
  otp: string | undefined,
  ctx: Ctx,
): Promise<ProviderAnswer> {
  const codeHash = digest(code);
  const held = await peekExchangeCode(deps.db, codeHash);
  if (!held) throw invalidExchangeCode();
  const user = await findUser(deps, held.userId);
  if (!user) throw invalidExchangeCode();
  ensureActive(user);
  // Before the code is used up: a missing code from the authenticator app can be sent again.
  await requireSecondFactor(deps, user, otp, ctx);
  const claimed = await deps.withTransaction(t => claimExchangeCode(deps.db, t, codeHash));
  if (!claimed) throw invalidExchangeCode();
  return { ...(await signIn(deps, user, ctx)), created: held.created };
}

/** POST /auth/oidc/:provider/id-token: a native SDK's ID token, verified, once per nonce. */
export async function signInWithIdToken(
  deps: UsersDeps,
  providerId: string,
  params: { idToken: string; nonce: string; otp?: string },
  ctx: Ctx,
): Promise<ProviderAnswer> {
  const provider = providerOf(deps, providerId);
  await configurationOf(deps, provider);
  let claims: JWTPayload;
  try {
    claims = await provider.verifyIdToken(params.idToken, params.nonce);
  } catch (err) {
    deps.logger.info(`oidc: ${provider.id} ID token refused: ${(err as Error).message}`);
    throw invalidIdToken();
  }
  const { user, created } = await accountFor(deps, provider, claims, ctx);
  ensureActive(user);
  await requireSecondFactor(deps, user, params.otp, ctx);
  const expiresAt = new Date(((claims.exp as number) + 60) * 1000);
  const fresh = await deps.withTransaction(t =>
    claimNonce(deps.db, t, provider.id, digest(params.nonce), expiresAt),
  );
  if (!fresh) throw invalidIdToken();
  return { ...(await signIn(deps, user, ctx)), created };
}

function subjectOf(claims: JWTPayload): string {
  if (typeof claims.sub !== "string" || claims.sub === "") throw invalidIdToken();
  return claims.sub;
}

/** A display name from the provider's claims: the name rule of register, never a failure. */
function nameFrom(claims: JWTPayload, email: string): string {
  const raw = typeof claims.name === "string" && claims.name.trim() !== "" ? claims.name : "";
  const cleaned = (raw || email.split("@")[0])
    .replace(/[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu, "")
    .trim();
  return [...(cleaned || "Learner")].slice(0, NAME_MAX).join("");
}

function identityRow(userId: string, provider: OidcProvider, claims: JWTPayload): IdentityRow {
  return {
    id: uuidv7(),
    userId,
    provider: provider.id,
    issuer: provider.issuer,
    subject: subjectOf(claims),
    email: typeof claims.email === "string" ? normaliseEmail(claims.email) : null,
    linkedAt: new Date(),
  };
}

/**
 * The account of a provider sign-in: the one linked to (issuer, sub); else the account of the
 * same email when both sides verified it (linked now); else a new one — 409 ACCOUNT_EXISTS
 * when the email is taken and either side has not verified it.
 */
async function accountFor(
  deps: UsersDeps,
  provider: OidcProvider,
  claims: JWTPayload,
  ctx: Ctx,
): Promise<{ user: UserRow; created: boolean }> {
  const subject = subjectOf(claims);
  const linked = await findIdentity(deps.db, provider.issuer, subject);
  if (linked) {
    const user = await findUser(deps, linked.userId);
    if (!user) throw userNotFound();
    ensureActive(user);
    return { user, created: false };
  }
  if (typeof claims.email !== "string" || claims.email === "") throw providerEmailMissing();
  const email = normaliseEmail(claims.email);
  const verified = claims.email_verified === true;
  const existing = await findByEmail(deps, email);
  if (existing) {
    if (!verified || !existing.emailVerified) throw accountExists();
    ensureActive(existing);
    await deps.withTransaction(t =>
      insertLinkedIdentity(deps, t, identityRow(existing.id, provider, claims), ctx),
    );
    return { user: existing, created: false };
  }
  try {
    const user = await deps.withTransaction(async t => {
      const made = await createAccount(
        deps,
        t,
        {
          email,
          name: nameFrom(claims, email),
          passwordHash: null,
          emailVerified: verified,
          locale: localeFrom(claims, ctx),
        },
        ctx,
      );
      await insertIdentity(deps.db, t, identityRow(made.id, provider, claims));
      return made;
    });
    return { user, created: true };
  } catch (err) {
    // The same first sign-in twice at once, or the email registered meanwhile.
    if (isUniqueViolation(err)) throw accountExists();
    throw err;
  }
}

/**
 * A new account's language: the provider's `locale` claim (OpenID Connect Core 5.1) when it
 * is a language tag, else the browser's Accept-Language on the callback.
 */
function localeFrom(claims: JWTPayload, ctx: Ctx): string | null {
  const claimed = typeof claims.locale === "string" ? preferredLanguage(claims.locale) : null;
  return claimed ?? preferredLanguage(ctx.meta.requestHeaders?.["accept-language"]);
}

/** An identity added to an account that existed before: the owner is told (a security mail). */
async function insertLinkedIdentity(
  deps: UsersDeps,
  t: Transaction,
  row: IdentityRow,
  ctx: Ctx,
): Promise<void> {
  await insertIdentity(deps.db, t, row);
  await emitUserEvent(
    deps,
    "user.identity_linked",
    { userId: row.userId, provider: row.provider },
    { transaction: t, ctx },
  );
}

async function linkIdentity(
  deps: UsersDeps,
  userId: string,
  provider: OidcProvider,
  claims: JWTPayload,
  ctx: Ctx,
): Promise<void> {
  const linked = await findIdentity(deps.db, provider.issuer, subjectOf(claims));
  if (linked) {
    if (linked.userId !== userId) throw identityTaken();
    return;
  }
  try {
    await deps.withTransaction(t =>
      insertLinkedIdentity(deps, t, identityRow(userId, provider, claims), ctx),
    );
  } catch (err) {
    if (isUniqueViolation(err)) throw identityTaken();
    throw err;
  }
}

function toIdentityView(row: IdentityRow): IdentityView {
  return {
    id: row.id,
    provider: row.provider,
    email: row.email,
    linkedAt: new Date(row.linkedAt).toISOString(),
  };
}

export async function listIdentities(deps: UsersDeps, userId: string): Promise<IdentityView[]> {
  return (await identitiesOf(deps.db, userId)).map(toIdentityView);
}

/** Never the last way in: an account without a password keeps its last identity (409). */
export async function unlinkIdentity(deps: UsersDeps, userId: string, id: string): Promise<void> {
  await deps.withTransaction(async t => {
    // The user's row lock serialises two unlinks of its last two identities.
    const row = await deps.User.findByPk(userId, { transaction: t, lock: t.LOCK.UPDATE });
    if (!row) throw userNotFound();
    const identities = await identitiesOf(deps.db, userId, t);
    if (!identities.some(identity => identity.id === id)) throw identityNotFound(id);
    if (row.get("passwordHash") === null && identities.length === 1) throw lastSignInMethod();
    await deleteIdentity(deps.db, t, userId, id);
  });
}
