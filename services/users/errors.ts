import { Errors } from "moleculer";
import { validationError } from "../../lib/errors";
import type { PasswordProblem } from "./passwords";

const { MoleculerClientError } = Errors;

/** One answer for an unknown email and a wrong password (security.md line 4). */
export const invalidCredentials = () =>
  new MoleculerClientError("Invalid email or password", 401, "INVALID_CREDENTIALS");

export const mfaRequired = () =>
  new MoleculerClientError(
    "A one-time code from the authenticator app is required",
    401,
    "MFA_REQUIRED",
  );

export const invalidRefreshToken = () =>
  new MoleculerClientError(
    "The refresh token is invalid, used or expired",
    401,
    "INVALID_REFRESH_TOKEN",
  );

export const tooManyAttempts = (retryAfterSeconds: number) =>
  new MoleculerClientError("Too many failed attempts; try again later", 429, "TOO_MANY_ATTEMPTS", {
    retryAfter: retryAfterSeconds,
  });

export const invalidOneTimeToken = () =>
  new MoleculerClientError("The token is invalid, used or expired", 400, "INVALID_TOKEN");

export const emailTaken = () =>
  new MoleculerClientError("This email is already registered", 409, "EMAIL_TAKEN");

/** Removing or demoting the last admin would leave nobody to administer (api.md, Identity). */
export const lastAdmin = () =>
  new MoleculerClientError(
    "This is the last admin: make another user admin first",
    409,
    "LAST_ADMIN",
  );

/** An admin's own role is taken away by another admin, never by a slip of its own. */
export const ownAdminRole = () =>
  new MoleculerClientError(
    "An admin cannot remove its own admin role; another admin can",
    409,
    "OWN_ADMIN_ROLE",
  );

export const userNotFound = (id?: string) =>
  new MoleculerClientError("User not found", 404, "USER_NOT_FOUND", id ? { id } : undefined);

export const weakPassword = (problems: PasswordProblem[]) => validationError(problems);

export const invalidOtp = (field = "otp") =>
  validationError([
    { field, type: "otpInvalid", message: `The '${field}' field is not a valid code.` },
  ]);

export const mfaAlreadyEnabled = () =>
  new MoleculerClientError(
    "MFA is already on; turn it off before setting it up again",
    409,
    "MFA_ALREADY_ENABLED",
  );

export const mfaNotEnabled = () =>
  new MoleculerClientError("MFA is not on", 409, "MFA_NOT_ENABLED");

export const mfaNotSetUp = () =>
  new MoleculerClientError(
    "Start with POST /auth/mfa/setup before enabling MFA",
    409,
    "MFA_NOT_SET_UP",
  );

export const sessionNotFound = (id: string) =>
  new MoleculerClientError("Session not found", 404, "SESSION_NOT_FOUND", { id });

export const accountSuspended = () =>
  new MoleculerClientError("This account is suspended", 403, "ACCOUNT_SUSPENDED");

export const providerNotFound = (id: string) =>
  new MoleculerClientError("No such sign-in provider", 404, "PROVIDER_NOT_FOUND", { id });

export const providerUnavailable = () =>
  new MoleculerClientError(
    "The sign-in provider cannot be reached; try again later",
    503,
    "PROVIDER_UNAVAILABLE",
  );

export const redirectUriNotAllowed = () =>
  validationError([
    {
      field: "redirectUri",
      type: "redirectUriNotAllowed",
      message:
        "The 'redirectUri' field is not one of the allowed redirect URIs (AUTH_REDIRECT_URIS).",
    },
  ]);

/** A callback whose `state` this deployment did not hand out, or no longer holds. */
export const invalidOidcState = () =>
  new MoleculerClientError(
    "The sign-in is unknown, finished or expired; start it again",
    400,
    "INVALID_STATE",
  );

export const invalidExchangeCode = () =>
  new MoleculerClientError("The code is invalid, used or expired", 400, "INVALID_CODE");

export const invalidIdToken = () =>
  new MoleculerClientError(
    "The ID token is invalid, expired, used or not for this client",
    401,
    "INVALID_ID_TOKEN",
  );

/** The provider's email belongs to an account here, and one side has not verified it (api.md). */
export const accountExists = () =>
  new MoleculerClientError(
    "An account with this email exists: sign in to it first, then link the provider",
    409,
    "ACCOUNT_EXISTS",
  );

export const providerEmailMissing = () =>
  new MoleculerClientError(
    "The provider did not share an email address, which a new account needs",
    400,
    "PROVIDER_EMAIL_MISSING",
  );

export const identityTaken = () =>
  new MoleculerClientError(
    "This provider account is linked to another account",
    409,
    "IDENTITY_TAKEN",
  );

export const identityNotFound = (id: string) =>
  new MoleculerClientError("Identity not found", 404, "IDENTITY_NOT_FOUND", { id });

export const lastSignInMethod = () =>
  new MoleculerClientError(
    "This is the last way to sign in to the account: set a password or link another provider first",
    409,
    "LAST_SIGN_IN_METHOD",
  );

export const exportIncomplete = (service: string) =>
  new MoleculerClientError(
    "Part of the data cannot be gathered right now; try again later",
    503,
    "EXPORT_INCOMPLETE",
    { service },
  );

export const emailAlreadyVerified = () =>
  new MoleculerClientError("The email address is verified already", 409, "EMAIL_ALREADY_VERIFIED");

/** Mails about one address are capped per hour (security.md line 22). */
export const mailCapReached = () =>
  new MoleculerClientError(
    "Too many mails were asked for this address; try again in an hour",
    429,
    "TOO_MANY_MAILS",
    { retryAfter: 3600 },
  );

export const cannotRelateToSelf = () =>
  validationError([
    {
      field: "userId",
      type: "notSelf",
      message: "The 'userId' field must be another user's id.",
    },
  ]);
