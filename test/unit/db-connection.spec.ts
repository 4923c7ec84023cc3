import net from "node:net";
import {
  createSequelize,
  redactMessage,
  redactUrl,
  rootMessage,
  waitForDatabase,
} from "../../lib/db/connection";

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>(resolve => server.close(() => resolve()));
  return port;
}

describe("database connection helpers", () => {
  test("when a URL with a password is redacted, then the password is gone and the rest stays", () => {
    expect(redactUrl("postgres://app:p%40ss@db.internal:5432/lingomesh?sslmode=require")).toBe(
      "postgres://app:***@db.internal:5432/lingomesh?sslmode=require",
    );
    expect(redactUrl("postgres://db.internal/lingomesh")).toBe("postgres://db.internal/lingomesh");
    expect(redactUrl("not a url")).toBe("<unparsable database URL>");
  });

  test("when a message embeds credentials, then they are replaced", () => {
    expect(redactMessage("connect to postgres://app:hunter2@db:5432/x failed")).toBe(
      "connect to postgres://app:***@db:5432/x failed",
    );
  });

  test("when the host name has several addresses and all refuse, then the cause is still a readable line", async () => {
    const port = await closedPort();
    const sequelize = createSequelize({
      target: { kind: "url", url: `postgres://app:pw@localhost:${port}/x` },
      applicationName: "spec",
    });
    try {
      const error = await sequelize.authenticate().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(rootMessage(error)).toMatch(new RegExp(`ECONNREFUSED .*${port}`));
    } finally {
      await sequelize.close();
    }
  });

  test("when the database stays unreachable, then waiting gives up after the timeout with the described target", async () => {
    const port = await closedPort();
    const sequelize = createSequelize({
      target: { kind: "url", url: `postgres://app:pw@127.0.0.1:${port}/x` },
      applicationName: "spec",
    });
    const retries: string[] = [];
    const started = Date.now();
    try {
      await expect(
        waitForDatabase(sequelize, {
          describe: "the spec database",
          timeoutMs: 2_500,
          onRetry: m => retries.push(m),
        }),
      ).rejects.toThrow(
        /^the spec database is unreachable after \d attempt\(s\) in 3 s: connect ECONNREFUSED/,
      );
    } finally {
      await sequelize.close();
    }
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]).toMatch(/not reachable yet .*retrying/);
  });
});
