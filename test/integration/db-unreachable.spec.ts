import net from "node:net";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import { DbMixin } from "../../mixins/db.mixin";
import { readiness } from "../../lib/health";
import { tempDataDir, testConfig, uniqueName } from "../support/isolation";

/** DATABASE_URL points at a port nobody listens on. */

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>(resolve => server.close(() => resolve()));
  return port;
}

const notesService: ServiceSchema = {
  name: "notes",
  mixins: [DbMixin({ schema: "notes", startTimeoutMs: 3_000 })],
};

describe("DbMixin when the database is unreachable", () => {
  test("when DATABASE_URL points at a closed port, then readiness fails while the node waits, and the start fails with one clear line without the password", async () => {
    const port = await closedPort();
    const url = `postgres://app:s3cret-pw@127.0.0.1:${port}/lingomesh`;
    const cfg = testConfig({
      NAMESPACE: uniqueName("dbdown"),
      DATABASE_URL: url,
      DATA_DIR: tempDataDir("db-down"),
    });
    const broker = new ServiceBroker({ ...brokerOptions(cfg), nodeID: uniqueName("down") });
    broker.createService(notesService);

    const starting = broker.start();
    const failed = starting.then(
      () => undefined,
      (err: Error) => err,
    );
    await new Promise(resolve => setTimeout(resolve, 1_500));
    const report = await readiness(broker);
    expect(report.status).toBe("fail");
    expect(report.checks["database:notes"].status).toBe("fail");
    expect(report.checks["database:notes"].error).toMatch(/ECONNREFUSED/);
    expect(JSON.stringify(report)).not.toContain("s3cret-pw");

    const error = await failed;
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toMatch(
      new RegExp(
        `^the database of service "notes" \\(DATABASE_URL=postgres://app:\\*\\*\\*@127\\.0\\.0\\.1:${port}/lingomesh\\) is unreachable after \\d+ attempt\\(s\\) in 3 s: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`,
      ),
    );
    expect(error?.message).not.toContain("s3cret-pw");
    expect(error?.message.split("\n")).toHaveLength(1);
    await broker.stop();
  });
});
