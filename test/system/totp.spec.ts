import { base32Decode, totp } from "./support/totp";

// The journeys compute MFA codes with this helper instead of the server's library; it must
// itself be right: RFC 6238 appendix B, SHA-1 seed "12345678901234567890" (last 6 digits).
const BASE32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

describe("the test's own TOTP (RFC 6238)", () => {
  it("when the RFC's test times are used, then the RFC's codes come out", () => {
    expect(base32Decode(BASE32).toString()).toBe("12345678901234567890");
    expect(totp(BASE32, 0, 59_000)).toBe("287082");
    expect(totp(BASE32, 0, 1_111_111_109_000)).toBe("081804");
    expect(totp(BASE32, 0, 1_234_567_890_000)).toBe("005924");
    expect(totp(BASE32, 0, 2_000_000_000_000)).toBe("279037");
    expect(totp(BASE32, 1, 59_000)).toBe(totp(BASE32, 0, 89_000));
  });
});
