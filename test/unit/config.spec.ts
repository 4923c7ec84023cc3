import {
  ConfigError,
  loadConfig,
  requireDurableEventBroker,
  requirePaymentProvider,
} from "../../lib/config";

describe("the environment contract (lib/config.ts)", () => {
  it("when no variable is set, then every service runs on embedded stand-ins with the documented defaults", () => {
    const cfg = loadConfig({});
    expect(cfg.services).toEqual(["api", "users", "content", "progress", "notify", "billing"]);
    expect(cfg).toMatchObject({
      namespace: "lingomesh",
      transporter: undefined,
      cacher: undefined,
      databaseUrl: undefined,
      amqpUrl: undefined,
      smtpUrl: undefined,
      port: 3000,
      metricsPort: 3030,
      rateLimitRpm: 600,
      loginFailuresMax: 10,
      publicUrl: "http://localhost:3000",
      clusterMode: false,
      redisPrefix: "lingomesh:",
    });
    expect(cfg.dataDir.endsWith("/data")).toBe(true);
  });

  it("when SERVICES names some services, then only those run; when set but empty, then none do", () => {
    expect(loadConfig({ SERVICES: "users, progress" }).services).toEqual(["users", "progress"]);
    expect(loadConfig({ SERVICES: "" }).services).toEqual([]);
  });

  it("when a transporter is set, then the node is in cluster mode", () => {
    expect(loadConfig({ TRANSPORTER: "nats://127.0.0.1:4222" }).clusterMode).toBe(true);
  });

  it("when a transporter is set without AMQP_URL, then a service with durable events refuses to start, naming AMQP_URL", () => {
    expect(() =>
      requireDurableEventBroker(loadConfig({ TRANSPORTER: "nats://127.0.0.1:4222" })),
    ).toThrow(/^Configuration error: AMQP_URL is required in cluster mode/);
    expect(() =>
      requireDurableEventBroker(
        loadConfig({ TRANSPORTER: "nats://127.0.0.1:4222", AMQP_URL: "amqp://127.0.0.1:5672" }),
      ),
    ).not.toThrow();
    expect(() => requireDurableEventBroker(loadConfig({}))).not.toThrow();
  });

  it("when Stripe's keys are set, then billing uses them; a cluster node running billing without them refuses to start", () => {
    expect(
      loadConfig({
        STRIPE_SECRET_KEY: "sk_test_abc",
        STRIPE_WEBHOOK_SECRET: "whsec_abc",
        STRIPE_API_URL: "http://127.0.0.1:12111",
      }).stripe,
    ).toEqual({
      secretKey: "sk_test_abc",
      webhookSecret: "whsec_abc",
      apiUrl: "http://127.0.0.1:12111",
    });
    expect(() =>
      requirePaymentProvider(loadConfig({ TRANSPORTER: "nats://127.0.0.1:4222" })),
    ).toThrow(/^Configuration error: STRIPE_SECRET_KEY is required in cluster mode/);
    expect(() => requirePaymentProvider(loadConfig({}))).not.toThrow();
  });

  it.each([
    [{ PORT: "abc" }, "PORT", 'Configuration error: PORT must be a whole number (got "abc")'],
    [
      { PORT: "70000" },
      "PORT",
      "Configuration error: PORT must be between 0 and 65535 (got 70000)",
    ],
    [{ SERVICES: "users,payments" }, "SERVICES", "payments"],
    [{ STRIPE_SECRET_KEY: "sk_test_abc" }, "STRIPE_WEBHOOK_SECRET", "Stripe needs"],
    [
      { STRIPE_SECRET_KEY: "pk_test_abc", STRIPE_WEBHOOK_SECRET: "whsec_abc" },
      "STRIPE_SECRET_KEY",
      "must be a Stripe secret key",
    ],
    [
      { STRIPE_SECRET_KEY: "sk_test_abc", STRIPE_WEBHOOK_SECRET: "abc" },
      "STRIPE_WEBHOOK_SECRET",
      "must be a webhook signing secret",
    ],
    [{ STRIPE_API_URL: "http://127.0.0.1:12111" }, "STRIPE_SECRET_KEY", "needs the keys"],
    [{ DATABASE_URL: "mysql://x@y/z" }, "DATABASE_URL", "must use postgres: or postgresql:"],
    [{ CACHER: "not a url" }, "CACHER", "is not a valid URL"],
    [{ TRANSPORTER: "carrier-pigeon" }, "TRANSPORTER", "must be a transporter URL"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL", "must be one of"],
    [{ NAMESPACE: "a b" }, "NAMESPACE", "may only hold"],
    [{ S3_ENDPOINT: "http://minio:9000" }, "S3_BUCKET", "S3 needs"],
    [
      { JWT_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----" },
      "JWT_PUBLIC_KEY",
      "key pair",
    ],
    [{ JWT_PUBLIC_KEY: "not a pem" }, "JWT_PUBLIC_KEY", "PEM-encoded public key"],
    [{ ADMIN_EMAIL: "root@example.com" }, "ADMIN_PASSWORD", "needs both"],
  ])("when %j is given, then start-up stops with one line naming %s", (env, variable, fragment) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as ConfigError).message).toContain(fragment);
    expect((error as ConfigError).message).not.toContain("\n");
  });

  it("when a URL with credentials is rejected, then the message does not repeat the credentials", () => {
    expect(() => loadConfig({ AMQP_URL: "http://guest:s3cret@rabbit:5672" })).toThrow(/AMQP_URL/);
    expect(() => loadConfig({ AMQP_URL: "http://guest:s3cret@rabbit:5672" })).not.toThrow(/s3cret/);
  });

  it("when OIDC_<ID>_* are set, then each issuer is a provider named by its lower-case id; the redirect list defaults to PUBLIC_URL/auth/done", () => {
    const cfg = loadConfig({
      PUBLIC_URL: "https://learn.example.com/",
      OIDC_GOOGLE_ISSUER: "https://accounts.google.com",
      OIDC_GOOGLE_CLIENT_ID: "g-id",
      OIDC_GOOGLE_CLIENT_SECRET: "g-secret",
      OIDC_SCHOOL_SSO_ISSUER: "http://127.0.0.1:8080/realms/school",
      OIDC_SCHOOL_SSO_CLIENT_ID: "s-id",
      OIDC_SCHOOL_SSO_NAME: "Northside",
    });
    expect(cfg.oidcProviders).toEqual([
      {
        id: "google",
        issuer: "https://accounts.google.com",
        clientId: "g-id",
        clientSecret: "g-secret",
        name: "Google",
      },
      {
        id: "school-sso",
        issuer: "http://127.0.0.1:8080/realms/school",
        clientId: "s-id",
        clientSecret: undefined,
        name: "Northside",
      },
    ]);
    expect(cfg.authRedirectUris).toEqual(["https://learn.example.com/auth/done"]);
    expect(
      loadConfig({ AUTH_REDIRECT_URIS: "https://a.example/done, com.example.app:/auth" })
        .authRedirectUris,
    ).toEqual(["https://a.example/done", "com.example.app:/auth"]);
    expect(loadConfig({}).oidcProviders).toEqual([]);
  });

  it.each([
    [{ OIDC_X_ISSUER: "https://x.example" }, "OIDC_X_CLIENT_ID", "client id"],
    [{ OIDC_X_CLIENT_ID: "id" }, "OIDC_X_CLIENT_ID", "OIDC_X_ISSUER"],
    [{ OIDC_X_ISSUER: "http://idp.example", OIDC_X_CLIENT_ID: "id" }, "OIDC_X_ISSUER", "https"],
    [{ AUTH_REDIRECT_URIS: "/relative" }, "AUTH_REDIRECT_URIS", "absolute"],
  ])(
    "when a provider or redirect variable is wrong (%j), then one line names %s",
    (env, variable, fragment) => {
      let error: unknown;
      try {
        loadConfig(env);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe(variable);
      expect((error as ConfigError).message).toContain(fragment);
    },
  );
});
