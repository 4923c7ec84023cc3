import { routeKey } from "../../services/api/all-routes";
import type { RouteSpec } from "../../services/api/route-table";
import {
  authorFixtures,
  learnerFixtures,
  fill,
  QUIZ,
  hasPathId,
  routesWithDeclarations,
  startSecurityCluster,
  type AuthorFixtures,
  type Declaration,
  type SecurityCluster,
  type Session,
} from "./security-kit";

/**
 * security.md line 19 (BOLA): for every route of the routes files that names an object —
 * by a path parameter or by an `…Id` field of its body — user A's token with user B's
 * objects answers 404 on a read and 403/404 on a write, for every method, and B's objects
 * are unchanged afterwards. A route added to a routes file without a row here fails the
 * completeness test, so new routes cannot slip past.
 */

interface Probe {
  /** What the probe is (shown in a failure). */
  label: string;
  params?: Record<string, string>;
  json?: unknown;
}

interface BolaCase {
  /**
   * "owned": the object belongs to the victim: every attacker is refused.
   * "capability": the route is public by contract and the path value is an unguessable
   * capability (media file ids, signed mail tokens): a token changes nothing, a forged
   * value is refused.
   */
  kind: "owned" | "capability";
  probes: Probe[];
  /** Statuses allowed for an attacker (default: 404 on GET, 403 or 404 on a write). */
  expected?: (attacker: Attacker, decl: Declaration) => number[];
}

interface Attacker {
  name: string;
  session: Session;
}

const ANY_UUID = "0190a4f6-0000-7000-8000-000000000000";

describe("BOLA: someone else's objects by id (security.md 19)", () => {
  let c: SecurityCluster;
  let victimAuthor: Session;
  let victimLearner: Session;
  let victimSecondDevice: Session;
  let attackers: Attacker[];
  let fx: AuthorFixtures;
  let victimSessionId: string;
  let notificationId: string;
  let card: { lessonId: string; cardId: string; due: string };
  let routes: Array<{ route: RouteSpec; decl: Declaration }>;
  let pushSubscriptionId: string;
  let practice: { id: string; answers: Array<{ questionId: string; value: string }> };
  let placement: { id: string; questionId: string };

  beforeAll(async () => {
    c = await startSecurityCluster("bola");
    routes = routesWithDeclarations(c.gateway.broker);
    victimAuthor = await c.withRoles(await c.register("victim-author"), ["learner", "author"]);
    victimLearner = await c.register("victim-learner");
    const attackerAuthor = await c.withRoles(await c.register("attacker-author"), [
      "learner",
      "author",
    ]);
    const attackerLearner = await c.register("attacker-learner");
    attackers = [
      { name: "learner A", session: attackerLearner },
      { name: "author A", session: attackerAuthor },
    ];
    fx = await authorFixtures(c, victimAuthor);

    // The victim learner's own objects: an enrollment, cards, a notification, a second session.
    const token = victimLearner.accessToken;
    ({ notificationId, card } = await learnerFixtures(c, victimLearner, fx));
    victimSecondDevice = await c.login(victimLearner.email, victimLearner.password);
    // A practice quiz of the victim's (drawn from the quiz they passed): its id is graded
    // through POST /lessons/:id/attempts.
    const right = new Map(QUIZ.questions.map(q => [q.prompt, q.answer]));
    const sheet = (questions: Array<{ id: string; prompt: string }>) =>
      questions.map(q => ({ questionId: q.id, value: right.get(q.prompt) ?? "" }));
    const quiz = await c.call<{ questions: Array<{ id: string; prompt: string }> }>(
      "GET",
      `/lessons/${fx.quizLesson}`,
      { token },
    );
    const passed = await c.call("POST", `/lessons/${fx.quizLesson}/attempts`, {
      token,
      json: { answers: sheet(quiz.body.questions) },
    });
    expect(passed.status).toBe(201);
    const drawn = await c.call<{ id: string; questions: Array<{ id: string; prompt: string }> }>(
      "POST",
      "/me/practice",
      { token, json: {} },
    );
    expect(drawn.status).toBe(201);
    practice = { id: drawn.body.id, answers: sheet(drawn.body.questions) };
    const subscribed = await c.call<{ id: string }>("POST", "/me/push-subscriptions", {
      token,
      json: {
        endpoint: "https://push.invalid/victim",
        keys: {
          p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString("base64url"),
          auth: Buffer.alloc(16, 2).toString("base64url"),
        },
      },
    });
    expect(subscribed.status).toBe(201);
    pushSubscriptionId = subscribed.body.id;
    const sessions = await c.call<Array<{ id: string; current: boolean }>>(
      "GET",
      "/auth/sessions",
      { token },
    );
    victimSessionId = sessions.body.find(s => !s.current)!.id;
    const started = await c.call<{ id: string; question: { id: string } }>("POST", "/placement", {
      token,
    });
    expect(started.status).toBe(201);
    placement = { id: started.body.id, questionId: started.body.question.id };
    // The attacking learner is a learner of the same published course: its own cards exist too.
    expect(
      (
        await c.call("POST", `/courses/${fx.publishedCourse}/enroll`, {
          token: attackerLearner.accessToken,
        })
      ).status,
    ).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await c?.stop();
  });

  const lessonBody = { title: "Injected", kind: "lesson", order: 9, body: "pwned" };
  const unitBody = { title: "Injected unit", order: 9 };

  /** One row per route that names an object; keys are the routes files' "METHOD /path". */
  const cases = (): Record<string, BolaCase> => ({
    "DELETE /auth/sessions/:id": {
      kind: "owned",
      probes: [{ label: "victim's session", params: { id: victimSessionId } }],
    },
    "PUT /users/:id/roles": {
      kind: "owned",
      probes: [
        { label: "victim's account", params: { id: victimLearner.id }, json: { roles: ["admin"] } },
      ],
    },
    // Administration: only admins reach these, whoever's id they carry.
    "GET /users/:id": {
      kind: "owned",
      probes: [{ label: "victim's account", params: { id: victimLearner.id } }],
      expected: () => [403],
    },
    "POST /users/:id/suspend": {
      kind: "owned",
      probes: [
        { label: "victim's account", params: { id: victimLearner.id }, json: { reason: "x" } },
      ],
    },
    "POST /users/:id/unsuspend": {
      kind: "owned",
      probes: [{ label: "victim's account", params: { id: victimLearner.id } }],
    },
    "DELETE /users/:id": {
      kind: "owned",
      probes: [{ label: "victim's account", params: { id: victimLearner.id } }],
    },
    // The victim's profile shows to its followers only (the default): the attackers follow nobody.
    "GET /users/:id/profile": {
      kind: "owned",
      probes: [{ label: "victim's profile", params: { id: victimLearner.id } }],
    },
    // An identity id that is not the caller's (this cluster has no provider to link one with).
    "DELETE /me/identities/:id": {
      kind: "owned",
      probes: [{ label: "an identity not the attacker's", params: { id: ANY_UUID } }],
    },
    // A provider id names no one's object; this cluster configures no provider.
    "POST /auth/oidc/:provider/start": {
      kind: "capability",
      probes: [{ label: "provider", params: { provider: "school" }, json: { redirectUri: "x" } }],
      expected: () => [404],
    },
    "GET /auth/oidc/:provider/callback": {
      kind: "capability",
      probes: [{ label: "provider", params: { provider: "school" } }],
      expected: () => [404],
    },
    "POST /auth/oidc/:provider/id-token": {
      kind: "capability",
      probes: [
        { label: "provider", params: { provider: "school" }, json: { idToken: "x", nonce: "n" } },
      ],
      expected: () => [404],
    },
    "POST /me/identities/:provider/start": {
      kind: "capability",
      probes: [{ label: "provider", params: { provider: "school" }, json: { redirectUri: "x" } }],
      expected: () => [404],
    },
    // The caller's own relations, by the other person's id: following an open profile and
    // blocking anyone are the caller's to do; they change nothing of the victim's data.
    "PUT /me/following/:userId": {
      kind: "capability",
      probes: [{ label: "victim", params: { userId: victimLearner.id } }],
      expected: () => [204],
    },
    "DELETE /me/following/:userId": {
      kind: "capability",
      probes: [{ label: "victim", params: { userId: victimLearner.id } }],
      expected: () => [204],
    },
    "PUT /me/blocked/:userId": {
      kind: "capability",
      probes: [{ label: "victim", params: { userId: victimLearner.id } }],
      expected: () => [204],
    },
    "DELETE /me/blocked/:userId": {
      kind: "capability",
      probes: [{ label: "victim", params: { userId: victimLearner.id } }],
      expected: () => [204],
    },
    "GET /courses/:id": {
      kind: "owned",
      probes: [{ label: "victim's draft course", params: { id: fx.draftCourse } }],
    },
    "PATCH /courses/:id": {
      kind: "owned",
      probes: [
        { label: "draft course", params: { id: fx.draftCourse }, json: { title: "pwned" } },
        { label: "published course", params: { id: fx.publishedCourse }, json: { title: "pwned" } },
      ],
    },
    "DELETE /courses/:id": {
      kind: "owned",
      probes: [
        { label: "draft course", params: { id: fx.draftCourse } },
        { label: "published course", params: { id: fx.publishedCourse } },
      ],
    },
    "POST /courses/:id/publish": {
      kind: "owned",
      probes: [
        { label: "draft course", params: { id: fx.draftCourse } },
        { label: "published course", params: { id: fx.publishedCourse } },
      ],
    },
    "POST /courses/:id/lessons": {
      kind: "owned",
      probes: [
        { label: "draft course", params: { id: fx.draftCourse }, json: lessonBody },
        { label: "published course", params: { id: fx.publishedCourse }, json: lessonBody },
      ],
    },
    "POST /courses/:id/units": {
      kind: "owned",
      probes: [
        { label: "draft course", params: { id: fx.draftCourse }, json: unitBody },
        { label: "published course", params: { id: fx.publishedCourse }, json: unitBody },
      ],
    },
    "GET /lessons/:id": {
      kind: "owned",
      probes: [
        { label: "quiz of a draft course", params: { id: fx.draftLesson } },
        { label: "reading of a draft course", params: { id: fx.draftReading } },
      ],
    },
    "PATCH /lessons/:id": {
      kind: "owned",
      probes: [
        { label: "draft lesson", params: { id: fx.draftLesson }, json: { title: "pwned" } },
        { label: "published lesson", params: { id: fx.quizLesson }, json: { title: "pwned" } },
      ],
    },
    "DELETE /lessons/:id": {
      kind: "owned",
      probes: [
        { label: "draft lesson", params: { id: fx.draftLesson } },
        { label: "published lesson", params: { id: fx.readingLesson } },
      ],
    },
    "POST /courses/:id/enroll": {
      kind: "owned",
      probes: [{ label: "victim's draft course", params: { id: fx.draftCourse } }],
    },
    "POST /lessons/:id/attempts": {
      kind: "owned",
      probes: [
        {
          label: "quiz of a draft course",
          params: { id: fx.draftLesson },
          json: { answers: [{ questionId: ANY_UUID, value: "Hello" }] },
        },
        {
          label: "victim's practice quiz",
          params: { id: practice.id },
          json: { answers: practice.answers },
        },
      ],
    },
    "POST /lessons/:id/complete": {
      kind: "owned",
      probes: [{ label: "reading of a draft course", params: { id: fx.draftReading } }],
    },
    // The question the victim's test asks now: a right or wrong answer would move it on.
    "POST /placement/:id/answers": {
      kind: "owned",
      probes: [
        {
          label: "victim's placement test",
          params: { id: placement.id },
          json: { questionId: placement.questionId, value: "x" },
        },
      ],
    },
    "POST /me/notifications/:id/read": {
      kind: "owned",
      probes: [{ label: "victim's notification", params: { id: notificationId } }],
    },
    "DELETE /me/push-subscriptions/:id": {
      kind: "owned",
      probes: [{ label: "victim's push subscription", params: { id: pushSubscriptionId } }],
    },
    // The card is named in the body: the attacking author is not enrolled (no such card is
    // theirs → 404); the attacking learner is, so the review is of its own card state.
    "POST /me/reviews": {
      kind: "owned",
      probes: [
        {
          label: "victim's card",
          json: { lessonId: card.lessonId, cardId: card.cardId, rating: "easy" },
        },
      ],
      expected: attacker => (attacker.name === "learner A" ? [200] : [404]),
    },
    // A plan is no one's object: anyone signed in may buy any plan (a session of their own).
    "POST /billing/checkout": {
      kind: "capability",
      probes: [
        {
          label: "a plan on sale",
          json: {
            planId: "premium-monthly",
            successUrl: "http://lingomesh.test/billing/done",
            cancelUrl: "http://lingomesh.test/billing",
          },
        },
      ],
      expected: () => [201],
    },
    // Admins only: a learner or author naming any invoice is refused before it is looked up.
    "POST /admin/refunds": {
      kind: "owned",
      probes: [{ label: "an invoice", json: { invoiceId: "in_victim" } }],
    },
    // Public by contract: uploaded files are served to anyone holding the id (lessons link them).
    "GET /media/:id": {
      kind: "capability",
      probes: [{ label: "victim's media", params: { id: fx.media } }],
      expected: () => [200],
    },
    "HEAD /media/:id": {
      kind: "capability",
      probes: [{ label: "victim's media", params: { id: fx.media } }],
      expected: () => [200],
    },
    // Public by contract: anyone holding a certificate's random id may verify it (security.md 31).
    "GET /certificates/:id": {
      kind: "capability",
      probes: [{ label: "guessed certificate id", params: { id: ANY_UUID } }],
      expected: () => [404],
    },
    "GET /certificates/:id/pdf": {
      kind: "capability",
      probes: [{ label: "guessed certificate id", params: { id: ANY_UUID } }],
      expected: () => [404],
    },
    "GET /certificates/:id/credential": {
      kind: "capability",
      probes: [{ label: "guessed certificate id", params: { id: ANY_UUID } }],
      expected: () => [404],
    },
    // Authors only; another author's course answers as none.
    "GET /courses/:id/analytics": {
      kind: "owned",
      probes: [{ label: "victim's published course", params: { id: fx.publishedCourse } }],
      expected: attacker => (attacker.name === "learner A" ? [403] : [404]),
    },
    "POST /certificates/:id/revoke": {
      kind: "owned",
      probes: [{ label: "any certificate", params: { id: ANY_UUID }, json: { reason: "pwned" } }],
    },
    "GET /notifications/open/:token.gif": {
      kind: "capability",
      probes: [{ label: "forged token", params: { token: "forged" } }],
      expected: () => [200],
    },
    "GET /notifications/click/:token": {
      kind: "capability",
      probes: [{ label: "forged token", params: { token: "forged" } }],
      expected: () => [404],
    },
    "GET /notifications/unsubscribe/:token": {
      kind: "capability",
      probes: [{ label: "forged token", params: { token: "forged" } }],
      expected: () => [400],
    },
    "POST /notifications/unsubscribe/:token": {
      kind: "capability",
      probes: [{ label: "forged token", params: { token: "forged" } }],
      expected: () => [400],
    },
  });

  /** Routes naming an object: a path parameter, or a body/query field `…Id` of the action. */
  const objectRoutes = () =>
    routes.filter(
      ({ route, decl }) =>
        hasPathId(route) || Object.keys(decl.params ?? {}).some(name => /.Id$/.test(name)),
    );

  it("when the routes files are enumerated, then every route naming an object has a BOLA row (and no row is stale)", () => {
    const table = cases();
    const named = objectRoutes().map(({ route }) => routeKey(route));
    expect(named.length).toBeGreaterThanOrEqual(20);
    expect(named.filter(key => !(key in table))).toEqual([]);
    expect(Object.keys(table).filter(key => !named.includes(key))).toEqual([]);
  });

  it("when A's token is used with B's objects on every such route and method, then reads are 404 and writes 403/404", async () => {
    const table = cases();
    const failures: string[] = [];
    let probes = 0;
    for (const { route, decl } of objectRoutes()) {
      const row = table[routeKey(route)];
      if (!row) continue;
      for (const attacker of attackers) {
        const lacksRole =
          (decl.roles?.length ?? 0) > 0 &&
          !decl.roles!.some(role => attacker.session.roles.includes(role));
        const allowed =
          row.expected?.(attacker, decl) ??
          (route.method === "GET" ? [404] : lacksRole ? [403] : [404]);
        for (const probe of row.probes) {
          probes++;
          const res = await c.call(route.method, fill(route.path, probe.params ?? {}), {
            token: attacker.session.accessToken,
            json: probe.json,
          });
          const line = `${route.method} ${route.path} as ${attacker.name} on ${probe.label}: ${res.status}`;
          if (!allowed.includes(res.status))
            failures.push(`${line} (expected ${allowed.join("/")})`);
          // A refusal never echoes the victim's data.
          if (res.status >= 400 && /Draft of the victim|Not yet\.|Greet someone/.test(res.text)) {
            failures.push(`${line} leaks the victim's content`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(probes).toBeGreaterThanOrEqual(40);
  });

  it("when the owner reads the same ids, then they exist (the 404s above are refusals, not typos)", async () => {
    const table = cases();
    const owners: Record<string, Session> = {
      "GET /courses/:id": victimAuthor,
      "GET /lessons/:id": victimAuthor,
    };
    for (const { route } of objectRoutes().filter(r => r.route.method === "GET")) {
      const owner = owners[routeKey(route)];
      if (!owner) continue;
      for (const probe of table[routeKey(route)].probes) {
        const res = await c.call(route.method, fill(route.path, probe.params ?? {}), {
          token: owner.accessToken,
        });
        expect([routeKey(route), probe.label, res.status]).toEqual([
          routeKey(route),
          probe.label,
          200,
        ]);
      }
    }
  });

  it("when the attacks are over, then every object of B is exactly as it was", async () => {
    const author = victimAuthor.accessToken;
    const draft = await c.call<{ title: string; status: string; lessons: unknown[] }>(
      "GET",
      `/courses/${fx.draftCourse}`,
      { token: author },
    );
    expect(draft.status).toBe(200);
    expect(draft.body).toMatchObject({ title: "Draft of the victim", status: "draft" });
    expect(draft.body.lessons).toHaveLength(2);
    const published = await c.call<{ title: string; version: number; lessons: unknown[] }>(
      "GET",
      `/courses/${fx.publishedCourse}?view=published`,
    );
    expect(published.status).toBe(200);
    expect(published.body).toMatchObject({ title: "Published by the victim", version: 1 });
    expect(published.body.lessons).toHaveLength(3);
    const authorView = await c.call<{ lessons: unknown[]; title: string }>(
      "GET",
      `/courses/${fx.publishedCourse}`,
      { token: author },
    );
    expect(authorView.body.title).toBe("Published by the victim");
    expect(authorView.body.lessons).toHaveLength(3);
    const lesson = await c.call<{ title: string }>("GET", `/lessons/${fx.draftLesson}`, {
      token: author,
    });
    expect(lesson.body.title).toBe("Checkpoint");
    expect((await c.call("GET", `/lessons/${fx.readingLesson}`, { token: author })).status).toBe(
      200,
    );

    // The victim learner: other session alive, notification unread, card untouched, roles kept.
    const refreshed = await c.call("POST", "/auth/refresh", {
      json: { refreshToken: victimSecondDevice.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    const token = victimLearner.accessToken;
    const notifications = await c.call<{ rows: Array<{ id: string; read: boolean }> }>(
      "GET",
      "/me/notifications",
      { token },
    );
    expect(notifications.body.rows.find(n => n.id === notificationId)?.read).toBe(false);
    const due = await c.call<Array<{ lessonId: string; cardId: string; due: string }>>(
      "GET",
      "/me/reviews/due",
      { token },
    );
    expect(due.body.find(d => d.lessonId === card.lessonId && d.cardId === card.cardId)?.due).toBe(
      card.due,
    );
    const me = await c.call<{ roles: string[] }>("GET", "/me", { token });
    expect(me.body.roles).toEqual(["learner"]);
    // The practice quiz the attackers named is still the victim's to grade, once.
    const practised = await c.call("POST", `/lessons/${practice.id}/attempts`, {
      token,
      json: { answers: practice.answers },
    });
    expect(practised.status).toBe(201);
    // The placement test still asks the victim the same question.
    const answered = await c.call("POST", `/placement/${placement.id}/answers`, {
      token,
      json: { questionId: placement.questionId, value: "x" },
    });
    expect(answered.status).toBe(200);

    // Nor did the attackers gain anything: no enrollment in the draft, no lesson in B's courses.
    for (const attacker of attackers) {
      const mine = await c.call<Array<{ course: { id: string } }>>("GET", "/me/courses", {
        token: attacker.session.accessToken,
      });
      expect(mine.body.map(e => e.course.id)).not.toContain(fx.draftCourse);
    }
  });
});
