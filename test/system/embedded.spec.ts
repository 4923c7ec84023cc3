import fs from "node:fs";
import path from "node:path";
import { tempDataDir } from "../support/isolation";
import { ApiClient, expectStatus, type Json } from "./support/http";
import { learnerJourney } from "./support/journey";
import { outboxMailbox } from "./support/mail";
import { freePort } from "../support/node-process";
import { startServer, type ServerProcess } from "./support/nodes";

/** `<time>-<template>-<mail id>.eml` (docs/mails.md) → the template. */
const templateOf = (file: string) =>
  file.match(
    /^[0-9T-]+Z-([a-z-]+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.eml$/,
  )?.[1];

/**
 * `npm start` on a fresh machine: one `server.ts` process with nothing set but DATA_DIR,
 * PORT and METRICS_PORT — in-process transporter, memory cache, PGlite, in-process durable
 * events, mails as .eml files under DATA_DIR/outbox.
 */

const dataDir = tempDataDir("lingomesh-system");
const mailbox = outboxMailbox(dataDir);
let env: Record<string, string>;
let node: ServerProcess | undefined;
let api: ApiClient;

beforeAll(async () => {
  env = {
    DATA_DIR: dataDir,
    PORT: String(await freePort()),
    METRICS_PORT: String(await freePort()),
  };
  // Start-up time is a benchmark figure, not a test: a loaded CI machine only waits longer.
  node = await startServer("embedded", env, 90_000);
  api = new ApiClient(node.origin!);
}, 120_000);

afterAll(async () => {
  await node?.kill();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("embedded defaults (one process, no external servers)", () => {
  it("when server.ts starts with no external variables, then it is ready on every embedded store", async () => {
    const ready = expectStatus(await api.get("/health/ready"), 200);
    expect(ready.body.status).toBe("ok");
    expect(Object.keys(ready.body.checks)).toEqual(
      expect.arrayContaining([
        "database:users",
        "database:content",
        "database:progress",
        "database:notify",
      ]),
    );
    // Embedded stores live under DATA_DIR.
    for (const dir of ["pglite", "keys"]) expect(fs.existsSync(path.join(dataDir, dir))).toBe(true);
    // The node's own health listener answers as well.
    expect((await fetch(`${node!.metricsUrl}/health/ready`)).status).toBe(200);
  });

  const learner = learnerJourney(
    () => ({ api, mailbox, publicUrl: "http://localhost:3000" }),
    "embedded",
  );

  it("when mails are sent on embedded defaults, then each is an .eml file under DATA_DIR/outbox", async () => {
    const files = mailbox.files();
    const templates = files.map(templateOf);
    expect(templates).not.toContain(undefined);
    // One welcome (the learner's), one course-completed, one mail per achievement.
    expect(templates.filter(t => t === "welcome")).toHaveLength(1);
    expect(templates.filter(t => t === "course-completed")).toHaveLength(1);
    expect(templates.filter(t => t === "achievement-unlocked")).toHaveLength(4);
  });

  it("when the node is stopped and started again, then accounts, sessions, progress and mails survive", async () => {
    const me = { token: learner.accessToken };
    const progress = expectStatus(await api.get("/me/progress", me), 200).body;
    const achievements = expectStatus(await api.get("/me/achievements", me), 200).body;
    const mails = mailbox.files();

    expect(await node!.stop()).toBe("0"); // SIGTERM: graceful, exit code 0
    node = await startServer("embedded-again", env, 90_000);
    api = new ApiClient(node.origin!);

    // The refresh token issued before the restart still works: sessions are on disk.
    const refreshed = expectStatus(
      await api.post("/auth/refresh", { refreshToken: learner.refreshToken }),
      200,
      "refresh after restart",
    );
    const token = { token: refreshed.body.accessToken };
    const profile = expectStatus(await api.get("/me", token), 200);
    expect(profile.body).toMatchObject({
      id: learner.userId,
      emailVerified: true,
      mfaEnabled: true,
    });
    expect(expectStatus(await api.get("/me/progress", token), 200).body).toEqual(progress);
    expect(expectStatus(await api.get("/me/achievements", token), 200).body).toEqual(achievements);
    const courses = expectStatus(await api.get("/me/courses", token), 200);
    expect(courses.body.map((c: Json) => [c.course.id, c.completion])).toEqual([
      [learner.courseId, 1],
    ]);
    // The starter course is not loaded twice, and no mail is sent again.
    const catalogue = expectStatus(await api.get("/courses"), 200);
    expect(catalogue.body.rows.map((c: Json) => c.title).sort()).toEqual([
      "Greetings and introductions",
      "Travel",
    ]);
    // A new mail after the restart goes out; nothing sent before goes out again with it.
    expectStatus(await api.post("/auth/password/forgot", { email: learner.email }), 202);
    await mailbox.waitFor(learner.email, /^Reset your Lingomesh password$/);
    const now = mailbox.files();
    expect(now.slice(0, mails.length)).toEqual(mails);
    expect(now.slice(mails.length).map(templateOf)).toEqual(["password-reset"]);
  }, 90_000);
});
