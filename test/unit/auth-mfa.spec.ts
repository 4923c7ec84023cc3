import { Secret } from "otpauth";
import {
  newRecoveryCodes,
  newTotpSecret,
  normaliseRecoveryCode,
  recoveryCodeDigest,
  totpStep,
} from "../../services/users/mfa";
import { hotp } from "../integration/users.support";

const RFC_SECRET = Secret.fromLatin1("12345678901234567890").base32;

describe("TOTP (RFC 6238) and recovery codes", () => {
  test.each([
    [59, "287082", 1],
    [1111111109, "081804", 37037036],
    [1234567890, "005924", 41152263],
  ])(
    "when the RFC 6238 SHA-1 vector at T=%i is checked, then code %s belongs to step %i",
    (seconds, code, step) => {
      expect(hotp(Buffer.from("12345678901234567890"), step)).toBe(code);
      expect(totpStep(RFC_SECRET, code, seconds * 1000)).toBe(step);
    },
  );

  test("when a code is one step off either way, then it is accepted; two steps off, refused", () => {
    const key = Buffer.from("12345678901234567890");
    const now = 1111111109 * 1000;
    const step = 37037036;
    expect(totpStep(RFC_SECRET, hotp(key, step - 1), now)).toBe(step - 1);
    expect(totpStep(RFC_SECRET, hotp(key, step + 1), now)).toBe(step + 1);
    expect(totpStep(RFC_SECRET, hotp(key, step + 2), now)).toBeNull();
    expect(totpStep(RFC_SECRET, hotp(key, step - 2), now)).toBeNull();
    expect(totpStep(RFC_SECRET, "12345", now)).toBeNull();
  });

  test("when a secret is made, then it is 160 bits of base32 and never the same twice", () => {
    const a = newTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(Secret.fromBase32(a).bytes.length).toBe(20);
    expect(newTotpSecret()).not.toBe(a);
  });

  test("when recovery codes are made, then there are ten distinct codes and their digests ignore case and dashes", () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(codes[0]).toMatch(/^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/);
    expect(recoveryCodeDigest(codes[0].toLowerCase().replace(/-/g, " "))).toBe(
      recoveryCodeDigest(codes[0]),
    );
    expect(normaliseRecoveryCode("ab-cd")).toBe("ABCD");
    expect(recoveryCodeDigest(codes[0])).not.toContain(normaliseRecoveryCode(codes[0]));
  });
});
