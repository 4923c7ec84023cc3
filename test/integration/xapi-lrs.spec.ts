import http from "node:http";
import type { AddressInfo } from "node:net";
import { startLearningCluster, type Json, type LearningCluster } from "./learning-kit";
import { waitFor } from "./users.support";
import { statementProblems } from "./xapi-shape";

/**
 * With XAPI_LRS_URL set, every statement of a learner's record reaches the LRS: a local HTTP
 * LRS that speaks the statements resource of xAPI 1.0.3 (version header, Basic credentials,
 * statements checked member by member, 409 for another statement under an id it holds) and is
 * down for its first call.
 */

interface LocalLrs {
  url: string;
  stored: Map<string, Json>;
  calls: Array<{ status: number; count: number }>;
  close(): Promise<void>;
}

async function startLocalLrs(user: string, password: string): Promise<LocalLrs> {
  const stored = new Map<string, Json>();
  const calls: LocalLrs["calls"] = [];
  const expectedAuth = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", chunk => chunks.push(chunk));
    req.on("end", () => {
      const answer = (status: number, body: unknown, count = 0) => {
        calls.push({ status, count });
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || req.url !== "/xapi/statements") return answer(404, {});
      if (req.headers["x-experience-api-version"] !== "1.0.3") return answer(400, "version");
      if (req.headers.authorization !== expectedAuth) return answer(401, "credentials");
      if (!String(req.headers["content-type"]).startsWith("application/json"))
        return answer(400, "type");
      // Down for its first call: the sender must try again.
      if (calls.length === 0) return answer(503, "starting up");
      const statements = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json[];
      const problems = statements.flatMap(statementProblems);
      if (!Array.isArray(statements) || problems.length > 0) return answer(400, problems);
      // xAPI: an id it holds is accepted again only with the same statement.
      const differs = (s: Json) =>
        stored.has(s.id as string) &&
        JSON.stringify(stored.get(s.id as string)) !== JSON.stringify(s);
      if (statements.some(differs)) return answer(409, "held");
      for (const s of statements) stored.set(s.id as string, s);
      answer(
        200,
        statements.map(s => s.id),
        statements.length,
      );
    });
  });
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${user}:${password}@127.0.0.1:${port}/xapi/`,
    stored,
    calls,
    close: () => new Promise(resolve => server.close(() => resolve())),
  };
}

let lrs: LocalLrs;
let c: LearningCluster;

beforeAll(async () => {
  lrs = await startLocalLrs("lrs-user", "lrs secret");
  c = await startLearningCluster("xapilrs", "https://learn.example.test", {
    XAPI_LRS_URL: lrs.url,
  });
}, 120_000);

afterAll(async () => {
  await c?.stop();
  await lrs?.close();
});

it("when a learner learns with XAPI_LRS_URL set, then every statement of their record reaches the LRS, after its outage, once", async () => {
  const author = await c.author("LRS Author");
  const as = { token: author.token };
  const courseId = (
    await c.ok("POST", "/courses", 201, {
      ...as,
      json: { title: "Records", description: "x", level: "A1", topics: [], language: "en" },
    })
  ).id as string;
  const quizId = (
    await c.ok("POST", `/courses/${courseId}/lessons`, 201, {
      ...as,
      json: {
        title: "Quiz",
        kind: "quiz",
        order: 1,
        questions: [
          { type: "single", prompt: "Yes?", options: ["yes", "no"], answer: "yes" },
          { type: "text", prompt: "Opposite of hot?", answer: "cold" },
        ],
      },
    })
  ).id as string;
  const readingId = (
    await c.ok("POST", `/courses/${courseId}/lessons`, 201, {
      ...as,
      json: { title: "Read", kind: "lesson", order: 2, body: "Text." },
    })
  ).id as string;
  await c.ok("POST", `/courses/${courseId}/publish`, 200, as);

  const learner = await c.register("Recorded Learner");
  const token = learner.token;
  await c.ok("POST", `/courses/${courseId}/enroll`, 201, { token });
  const view = await c.ok("GET", `/lessons/${quizId}`, 200, { token });
  const [yes, opposite] = view.questions as Json[];
  const answers = (first: string, second: string) => [
    { questionId: yes.id, value: first },
    { questionId: opposite.id, value: second },
  ];
  await c.ok("POST", `/lessons/${quizId}/attempts`, 201, {
    token,
    json: { answers: answers("no", "warm") },
  });
  await c.ok("POST", `/lessons/${quizId}/attempts`, 201, {
    token,
    json: { answers: answers("yes", "cold") },
  });
  await c.ok("POST", `/lessons/${readingId}/complete`, 201, { token });

  const record = (await c.ok("GET", "/me/xapi", 200, { token })).statements as Json[];
  // Two attempts of two answers each and a verdict, two lessons and the course completed.
  expect(record).toHaveLength(2 * 3 + 3);
  const mine = () =>
    [...lrs.stored.values()].filter(
      s => (s.actor as Json as { account: Json }).account.name === learner.id,
    );
  await waitFor(async () => mine().length === record.length, 30_000);
  expect(new Map(mine().map(s => [s.id, s]))).toEqual(new Map(record.map(s => [s.id, s])));
  expect(lrs.calls[0].status).toBe(503);
  // Nothing refused as malformed or sent without its credentials, and no statement twice.
  expect(lrs.calls.filter(call => call.status === 400 || call.status === 401)).toEqual([]);
  expect(lrs.calls.filter(call => call.status === 200).reduce((n, call) => n + call.count, 0)).toBe(
    lrs.stored.size,
  );
}, 60_000);
