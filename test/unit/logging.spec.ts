import { message, redact } from "../../lib/logging";

describe("log lines (lib/logging.ts)", () => {
  it("when an error message names a connection URL with a password, then the line keeps the user but not the password", () => {
    const line = message([
      "GET /boom failed:",
      new Error("connect ECONNREFUSED postgres://app:hunter2@10.0.0.7:5432"),
      "amqp://guest:guest@rabbit:5672/vhost",
    ]);
    expect(line).not.toContain("hunter2");
    expect(line).not.toContain("guest@");
    expect(line).toContain("postgres://app:***@10.0.0.7:5432");
    expect(line).toContain("amqp://guest:***@rabbit:5672/vhost");
  });

  it("when an object with secret-named keys is logged, then their values are replaced", () => {
    expect(
      redact({ email: "a@b.c", password: "x", nested: { refreshToken: "y", otp: "1" } }),
    ).toEqual({
      email: "a@b.c",
      password: "[redacted]",
      nested: { refreshToken: "[redacted]", otp: "[redacted]" },
    });
  });
});
