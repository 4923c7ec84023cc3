import { hash } from "@node-rs/argon2";
import {
  commonPasswordList,
  hashPassword,
  needsRehash,
  passwordProblems,
  verifyPassword,
} from "../../services/users/passwords";

describe("password policy and hashing", () => {
  test("when the shipped list is loaded, then it holds the 10 000 most common passwords", () => {
    const list = commonPasswordList();
    expect(list.size).toBe(10_000);
    expect(list.has("123456")).toBe(true);
    expect(list.has("1q2w3e4r5t")).toBe(true);
  });

  test.each([
    ["9 characters", "abcdefghi", "passwordTooShort"],
    ["129 characters", "a".repeat(129), "passwordTooLong"],
    ["common", "1234567890", "passwordTooCommon"],
    ["common in capitals", "Q1W2E3R4T5", "passwordTooCommon"],
  ])("when a password is %s, then it is refused", (_label, password, type) => {
    expect(passwordProblems(password)).toEqual([
      expect.objectContaining({ field: "password", type }),
    ]);
  });

  test("when a password is 10 or 128 characters, counted as the user sees them, then it is accepted", () => {
    expect(passwordProblems("ten chars!")).toEqual([]);
    expect(passwordProblems("🦄🐝".repeat(5))).toEqual([]);
    expect(passwordProblems("bc".repeat(64))).toEqual([]);
  });

  test("when the password is the email, then it is refused", () => {
    expect(passwordProblems("Me@Example.com", "password", "me@example.com")[0].type).toBe(
      "passwordIsEmail",
    );
  });

  test("when a password is hashed, then Argon2id m=19456 t=2 p=1 is recorded and only the exact password verifies", async () => {
    const stored = await hashPassword(" exact as typed ");
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    await expect(verifyPassword(stored, " exact as typed ")).resolves.toBe(true);
    await expect(verifyPassword(stored, "exact as typed")).resolves.toBe(false);
    await expect(verifyPassword("not a hash", "x")).resolves.toBe(false);
  });

  test("when a hash has weaker parameters or another algorithm, then it needs a rehash", async () => {
    expect(needsRehash(await hashPassword("some long password"))).toBe(false);
    expect(
      needsRehash(
        await hash("some long password", {
          memoryCost: 8192,
          timeCost: 2,
          parallelism: 1,
          algorithm: 2,
        }),
      ),
    ).toBe(true);
    expect(
      needsRehash(
        await hash("some long password", {
          memoryCost: 19456,
          timeCost: 1,
          parallelism: 1,
          algorithm: 2,
        }),
      ),
    ).toBe(true);
    expect(
      needsRehash(
        await hash("some long password", {
          memoryCost: 19456,
          timeCost: 2,
          parallelism: 1,
          algorithm: 1,
        }),
      ),
    ).toBe(true);
  });

  test("when hashing runs, then the event loop keeps turning (the work is in libuv's pool)", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await Promise.all([hashPassword("concurrent one!!"), hashPassword("concurrent two!!")]);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(3);
  });
});
