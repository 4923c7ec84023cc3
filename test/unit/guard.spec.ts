import { ServiceBroker, type Context } from "moleculer";
import { actorOf } from "../../lib/auth/guard";
import type { RequestMeta } from "../../models/auth.model";
import { brokerOptions } from "../../moleculer.config";
import { toPublicError } from "../../services/api/errors";
import { testConfig } from "../support/isolation";

/** The guard as every node gets it: brokerOptions' middlewares, calls made on the same node. */
describe("the auth/roles guard (middlewares/guard.middleware.ts)", () => {
  const broker = new ServiceBroker({
    ...brokerOptions(testConfig({})),
    nodeID: "guard-unit",
    logger: false,
  });
  const ran: string[] = [];

  beforeAll(async () => {
    broker.createService({
      name: "guarded",
      actions: {
        mine: {
          auth: true,
          params: { $$strict: true, n: { type: "number", optional: true } },
          handler(ctx: Context<unknown, RequestMeta>) {
            ran.push("mine");
            return actorOf(ctx).id;
          },
        },
        write: {
          auth: true,
          roles: ["author"],
          handler() {
            ran.push("write");
            return "written";
          },
        },
        administer: {
          roles: ["author"],
          handler() {
            ran.push("administer");
            return "done";
          },
        },
        open: {
          handler() {
            return "open";
          },
        },
      },
    });
    await broker.start();
  });
  afterAll(() => broker.stop());
  beforeEach(() => {
    ran.length = 0;
  });

  const as = (...roles: string[]) => ({ meta: { user: { id: "u-1", roles } } });

  it("when an action with auth is called locally without a user, then 401 in the contract's shape and the handler never runs", async () => {
    const err = await broker.call("guarded.mine", {}).catch((e: unknown) => e);
    expect(toPublicError(err)).toEqual({
      name: "UnauthorizedError",
      message: "A valid access token is required",
      code: 401,
      type: "UNAUTHORIZED",
    });
    await expect(broker.call("guarded.write", {})).rejects.toMatchObject({ code: 401 });
    expect(ran).toEqual([]);
  });

  it("when the caller lacks the action's role, then 403 in the contract's shape and the handler never runs", async () => {
    const err = await broker.call("guarded.write", {}, as("learner")).catch((e: unknown) => e);
    expect(toPublicError(err)).toEqual({
      name: "ForbiddenError",
      message: "You may not do this",
      code: 403,
      type: "FORBIDDEN",
    });
    await expect(broker.call("guarded.administer", {}, as("learner"))).rejects.toMatchObject({
      code: 403,
    });
    expect(ran).toEqual([]);
  });

  it("when the caller holds the role, or is an admin, then the handler runs", async () => {
    expect(await broker.call("guarded.write", {}, as("author"))).toBe("written");
    expect(await broker.call("guarded.write", {}, as("admin"))).toBe("written");
    expect(await broker.call("guarded.mine", {}, as("learner"))).toBe("u-1");
    expect(ran).toEqual(["write", "write", "mine"]);
  });

  it("when an action with roles but no auth is called with no user (an operator at the REPL), then it runs; a public action asks nothing", async () => {
    expect(await broker.call("guarded.administer", {})).toBe("done");
    expect(await broker.call("guarded.open", {})).toBe("open");
  });

  it("when params are invalid and no user is sent, then the validator's 422 comes first", async () => {
    await expect(broker.call("guarded.mine", { n: "x", extra: 1 })).rejects.toMatchObject({
      code: 422,
      type: "VALIDATION_ERROR",
    });
  });
});
