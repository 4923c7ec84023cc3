import { AccessTokenVerifier, InvalidTokenError } from "../../lib/auth/verify-access-token";
import {
  hsWithPublicKey,
  newSigningKey,
  signAccessToken,
  standardClaims,
  TEST_PUBLIC_URL,
  unsignedToken,
  type SigningKey,
} from "../integration/api-kit";

describe("AccessTokenVerifier (security.md 5–7)", () => {
  let key: SigningKey;
  let fetches: number;
  let keys: SigningKey[];
  let clock: number;
  let verifier: AccessTokenVerifier;

  beforeEach(async () => {
    key = await newSigningKey();
    keys = [key];
    fetches = 0;
    clock = Date.now();
    verifier = new AccessTokenVerifier({
      publicUrl: TEST_PUBLIC_URL,
      fetchJwks: async () => {
        fetches++;
        return { keys: keys.map(k => k.jwk) };
      },
      minRefetchIntervalMs: 1000,
      now: () => clock,
    });
  });

  it("when the token is a valid access token, then it yields {id, roles} and the keys are fetched once", async () => {
    const user = await verifier.verify(
      await signAccessToken(key, { sub: "u1", roles: ["author"] }),
    );
    expect(user).toMatchObject({ id: "u1", roles: ["author"] });
    await verifier.verify(await signAccessToken(key));
    expect(fetches).toBe(1);
  });

  it("when the token claims roles that do not exist, then they are dropped", async () => {
    const token = await signAccessToken(key, { roles: ["learner", "root" as never] });
    expect((await verifier.verify(token)).roles).toEqual(["learner"]);
  });

  it.each([
    ["alg none", () => unsignedToken(standardClaims())],
    ["HS256 with the public key as secret", () => hsWithPublicKey(key, standardClaims())],
    ["wrong typ", () => signAccessToken(key, { typ: "JWT" })],
    ["refresh-like typ", () => signAccessToken(key, { typ: "rt+jwt" })],
    ["wrong audience", () => signAccessToken(key, { aud: "somebody-else" })],
    ["wrong issuer", () => signAccessToken(key, { iss: "https://other.example" })],
    ["expired beyond the leeway", () => signAccessToken(key, { expiresInSeconds: -61 })],
    ["jwk header", () => signAccessToken(key, { header: { jwk: key.jwk } })],
    ["x5u header", () => signAccessToken(key, { header: { x5u: "https://evil.example/cert" } })],
    ["kid as a path", () => signAccessToken(key, { header: { kid: "../../etc/passwd" } })],
  ])("when the token has %s, then it is refused", async (_label, make) => {
    await expect(verifier.verify(await make())).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("when a token expired within the clock leeway, then it is still accepted", async () => {
    await expect(
      verifier.verify(await signAccessToken(key, { expiresInSeconds: -10 })),
    ).resolves.toBeDefined();
  });

  it("when a verified token is presented again past its expiry and the leeway, then it is refused", async () => {
    const token = await signAccessToken(key, { expiresInSeconds: 30 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ id: expect.any(String) });
    await expect(verifier.verify(token)).resolves.toMatchObject({ id: expect.any(String) });
    clock += 92_000;
    await expect(verifier.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("when the key that signed a remembered token leaves the key set, then the token is refused", async () => {
    const token = await signAccessToken(key);
    await verifier.verify(token);
    const next = await newSigningKey();
    keys = [next];
    clock += 1001;
    await verifier.verify(await signAccessToken(next));
    await expect(verifier.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("when a remembered token's answer is changed by its caller, then the next answer is unaffected", async () => {
    const token = await signAccessToken(key, { roles: ["learner"] });
    const first = await verifier.verify(token);
    first.roles.push("admin");
    expect((await verifier.verify(token)).roles).toEqual(["learner"]);
  });

  it("when a token names an unknown key id, then the keys are refetched at most once per interval", async () => {
    await verifier.verify(await signAccessToken(key));
    const next = await newSigningKey();
    keys = [key, next];
    const token = await signAccessToken(next, { sub: "rotated" });
    // Within the interval: no refetch, refused.
    await expect(verifier.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
    expect(fetches).toBe(1);
    clock += 1001;
    await expect(verifier.verify(token)).resolves.toMatchObject({ id: "rotated" });
    expect(fetches).toBe(2);
    const unknown = await newSigningKey();
    for (let i = 0; i < 5; i++) {
      await expect(verifier.verify(await signAccessToken(unknown))).rejects.toBeInstanceOf(
        InvalidTokenError,
      );
    }
    expect(fetches).toBe(2);
  });

  it("when the key set cannot be fetched, then the error is not an invalid-token error (the gateway answers 503)", async () => {
    const down = new AccessTokenVerifier({
      publicUrl: TEST_PUBLIC_URL,
      fetchJwks: async () => {
        throw new Error("users unavailable");
      },
    });
    const err = await down.verify(await signAccessToken(key)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(InvalidTokenError);
  });
});
