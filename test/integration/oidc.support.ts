import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, SignJWT, type JWK } from "jose";
import Provider from "oidc-provider";

/**
 * A real OpenID provider (panva's certified `oidc-provider`) in this process, on loopback
 * HTTP, and a browser that walks its sign-in: the peer of the users service's OIDC client.
 * The provider signs with a key the test holds too, so a test can forge what only the
 * provider should be able to sign (an expired token) or sign as another issuer.
 */

export interface ProviderAccount {
  email: string;
  emailVerified: boolean;
  name: string;
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The provider's account store: add one before signing in as it (the key is its `sub`). */
  accounts: Map<string, ProviderAccount>;
  /** Signs a token with the provider's own key (what a compromised or mistaken peer could send). */
  sign(claims: Record<string, unknown>, opts?: { expiresIn?: number }): Promise<string>;
  close(): Promise<void>;
}

/** Where the test itself, as a native app, receives the provider's code. */
const NATIVE_REDIRECT = "http://127.0.0.1:9/native";

export async function startTestProvider(opts: {
  clientId: string;
  redirectUris: string[];
}): Promise<TestProvider> {
  const server = http.createServer();
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = crypto.randomBytes(8).toString("hex");
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
  const accounts = new Map<string, ProviderAccount>();
  const clientSecret = crypto.randomBytes(24).toString("base64url");
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: opts.clientId,
        client_secret: clientSecret,
        redirect_uris: [...opts.redirectUris, NATIVE_REDIRECT],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(16).toString("hex")] },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    // Scope claims in the ID token too, as Google's and Apple's native SDKs hand them out.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          email: account.email,
          email_verified: account.emailVerified,
          name: account.name,
        }),
      };
    },
  });
  // Its warnings about development defaults (in-memory adapter, dev interactions) are expected here.
  server.on("request", provider.callback());
  return {
    issuer,
    clientId: opts.clientId,
    clientSecret,
    accounts,
    sign(claims, signOpts = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid })
        .setIssuedAt(now - 600)
        .setExpirationTime(now + (signOpts.expiresIn ?? 600))
        .sign(privateKey);
    },
    close: () => new Promise(resolve => server.close(() => resolve())),
  };
}

/** A browser: one cookie jar, redirects followed by hand so each hop can be seen. */
export class Browser {
  private readonly cookies = new Map<string, string>();

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (value === "" || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set(
        "cookie",
        [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "),
      );
    }
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    this.remember(res);
    return res;
  }

  /**
   * Follows redirects from `url`, signing in as `accountId` and consenting at the provider's
   * interaction pages, until a redirect leaves for `stopAt` (the app's redirect URI, or the
   * gateway's callback when `stopAt` is it): answers that redirect's target.
   */
  async signIn(url: string, accountId: string, stopAt: string): Promise<URL> {
    let next = new URL(url);
    for (let hop = 0; hop < 20; hop++) {
      const res = await this.request(next.href);
      if (res.status >= 300 && res.status < 400) {
        await res.arrayBuffer();
        const target = new URL(res.headers.get("location") as string, next);
        if (target.href.startsWith(stopAt)) return target;
        next = target;
        continue;
      }
      const page = await res.text();
      const interaction = /\/interaction\/([A-Za-z0-9_-]+)$/.exec(next.pathname);
      if (res.status !== 200 || !interaction) {
        throw new Error(`unexpected ${res.status} at ${next.pathname}: ${page.slice(0, 300)}`);
      }
      const prompt = page.includes('name="login"') ? "login" : "consent";
      const form = new URLSearchParams({ prompt });
      if (prompt === "login") {
        form.set("login", accountId);
        form.set("password", "any");
      }
      const submitted = await this.request(next.href, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
      await submitted.arrayBuffer();
      if (submitted.status !== 303 && submitted.status !== 302) {
        throw new Error(`the provider's ${prompt} page answered ${submitted.status}`);
      }
      next = new URL(submitted.headers.get("location") as string, next);
    }
    throw new Error("too many redirects");
  }
}

/** A native app's own sign-in at the provider: code + PKCE, answered with the ID token. */
export async function nativeIdToken(
  provider: TestProvider,
  accountId: string,
  nonce: string,
): Promise<string> {
  const verifier = crypto.randomBytes(32).toString("base64url");
  const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
  const auth = new URL(`${provider.issuer}/auth`);
  auth.search = new URLSearchParams({
    client_id: provider.clientId,
    response_type: "code",
    scope: "openid email profile",
    redirect_uri: NATIVE_REDIRECT,
    state: crypto.randomBytes(8).toString("hex"),
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  const back = await new Browser().signIn(auth.href, accountId, NATIVE_REDIRECT);
  const res = await fetch(`${provider.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: back.searchParams.get("code") as string,
      redirect_uri: NATIVE_REDIRECT,
      code_verifier: verifier,
      client_id: provider.clientId,
      client_secret: provider.clientSecret,
    }).toString(),
  });
  const body = (await res.json()) as { id_token?: string; error?: string };
  if (!body.id_token) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`);
  return body.id_token;
}
