import crypto from "node:crypto";
import { Secret, TOTP } from "otpauth";
import { digest } from "./tokens";

/**
 * TOTP per RFC 6238 (security.md lines 13–15): SHA-1, 6 digits, 30 s steps, one step of
 * drift either way, 160-bit secrets from the CSPRNG, server time. A code's step is
 * returned so the caller can refuse it the second time (see UserRow.mfaLastStep).
 */

const TOTP_PERIOD_SECONDS = 30;
const TOTP_DIGITS = 6;
const TOTP_WINDOW = 1;
const TOTP_SECRET_BYTES = 20;
const RECOVERY_CODE_COUNT = 10;

export function newTotpSecret(): string {
  return new Secret({ size: TOTP_SECRET_BYTES }).base32;
}

function totp(secretBase32: string, label = "account"): TOTP {
  return new TOTP({
    issuer: "Lingomesh",
    label,
    secret: Secret.fromBase32(secretBase32),
    algorithm: "SHA1",
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}

export function otpauthUrl(secretBase32: string, email: string): string {
  return totp(secretBase32, email).toString();
}

export function isTotpShaped(code: string): boolean {
  return /^\d{6}$/.test(code);
}

/** The time step the code belongs to, or null when it is wrong. */
export function totpStep(secretBase32: string, code: string, now = Date.now()): number | null {
  if (!isTotpShaped(code)) return null;
  const delta = totp(secretBase32).validate({ token: code, timestamp: now, window: TOTP_WINDOW });
  if (delta === null) return null;
  return Math.floor(now / 1000 / TOTP_PERIOD_SECONDS) + delta;
}

const RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/** 16 symbols of a 31-letter alphabet (~79 bits), shown as XXXX-XXXX-XXXX-XXXX. */
export function newRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const symbols = Array.from(
      { length: 16 },
      () => RECOVERY_ALPHABET[crypto.randomInt(RECOVERY_ALPHABET.length)],
    );
    return symbols.join("").replace(/(.{4})(?=.)/g, "$1-");
  });
}

export function normaliseRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[^A-Z0-9]/g, "");
}

export function recoveryCodeDigest(code: string): string {
  return digest(`recovery:${normaliseRecoveryCode(code)}`);
}
