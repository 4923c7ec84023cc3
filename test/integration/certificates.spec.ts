import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from "jose";
import type { Browser } from "playwright-core";
import { launchRenderer, renderFirstPage } from "../support/pdf-render";
import { http } from "./api-kit";
import { startLearningCluster, type Json, type LearningCluster } from "./learning-kit";
import { PASSWORD, sql, waitFor } from "./users.support";

/**
 * Certificates on a real two-node cluster (gateway, users and content on one node; progress and
 * notify on the other; NATS, RabbitMQ, Redis, PostgreSQL): issued once by completing a course
 * through the API, verified publicly, printed as a PDF that a browser draws, signed as an Open
 * Badges 3.0 credential that verifies against /auth/jwks alone, and revoked in a status list.
 */

const PUBLIC_URL = "https://learn.example.test";

let c: LearningCluster;
let apiUrl: string;
let adminToken: string;
let courseId: string;
let lessonIds: string[];

const call: LearningCluster["call"] = (...args) => c.call(...args);
const expectOk: LearningCluster["ok"] = (...args) => c.ok(...args);
const newLearner = (name: string) => c.register(name);
const dbUrl = () => c.db.url;

async function completeCourse(token: string): Promise<void> {
  await expectOk("POST", `/courses/${courseId}/enroll`, 201, { token });
  for (const id of lessonIds) await expectOk("POST", `/lessons/${id}/complete`, 201, { token });
}

async function certificatesOf(token: string): Promise<Json[]> {
  const res = await http(`${apiUrl}/me/certificates`, { token });
  expect(res.status).toBe(200);
  return res.body as Json[];
}

async function getBytes(route: string): Promise<{ status: number; type: string; bytes: Buffer }> {
  const res = await fetch(`${apiUrl}${route}`);
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    bytes: Buffer.from(await res.arrayBuffer()),
  };
}

const jwks = () => createRemoteJWKSet(new URL(`${apiUrl}/auth/jwks`));

async function verifiedCredential(id: string): Promise<{ payload: JWTPayload; kid?: string }> {
  const res = await call("GET", `/certificates/${id}/credential`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/vc\+jwt/);
  const { payload, protectedHeader } = await jwtVerify(res.text, jwks(), {
    issuer: PUBLIC_URL,
    typ: "JWT",
    algorithms: ["EdDSA"],
  });
  return { payload, kid: protectedHeader.kid };
}

/** Bitstring Status List §4: the list's place `index`, read from the signed list credential. */
async function revocationBit(index: number): Promise<number> {
  const res = await call("GET", "/credentials/status/revocation");
  expect(res.status).toBe(200);
  const { payload } = await jwtVerify(res.text, jwks(), { issuer: PUBLIC_URL, typ: "JWT" });
  expect(payload.type).toEqual(["VerifiableCredential", "BitstringStatusListCredential"]);
  const subject = payload.credentialSubject as Json;
  expect(subject).toMatchObject({ type: "BitstringStatusList", statusPurpose: "revocation" });
  const encoded = subject.encodedList as string;
  expect(encoded.startsWith("u")).toBe(true);
  const list = zlib.gunzipSync(Buffer.from(encoded.slice(1), "base64url"));
  expect(list.length).toBeGreaterThanOrEqual(16_384);
  return (list[index >> 3] >> (7 - (index & 7))) & 1;
}

beforeAll(async () => {
  c = await startLearningCluster("certs", PUBLIC_URL);
  apiUrl = c.apiUrl;
  adminToken = c.adminToken;
  const as = { token: adminToken };
  courseId = (
    await expectOk("POST", "/courses", 201, {
      ...as,
      json: {
        title: "Café conversations",
        description: "Order, chat and pay in English.",
        level: "B1",
        topics: ["Food and drink"],
        language: "en",
      },
    })
  ).id as string;
  lessonIds = [];
  for (const order of [1, 2, 3]) {
    const lesson = await expectOk("POST", `/courses/${courseId}/lessons`, 201, {
      ...as,
      json: { title: `Part ${order}`, kind: "lesson", order, body: "Read me." },
    });
    lessonIds.push(lesson.id as string);
  }
  await expectOk("POST", `/courses/${courseId}/publish`, 200, as);
}, 120_000);

afterAll(async () => {
  await c?.stop();
});

describe("certificates", () => {
  let learner: { id: string; token: string };
  let certificateId: string;
  let browser: Browser | undefined;

  afterAll(async () => {
    await browser?.close();
  });

  it("when a learner completes the last lessons of a course in parallel, then exactly one certificate is issued and the completion event names it", async () => {
    learner = await newLearner("Zoë Łukasiewicz-Ångström");
    const { token } = learner;
    await expectOk("POST", `/courses/${courseId}/enroll`, 201, { token });
    await expectOk("POST", `/lessons/${lessonIds[0]}/complete`, 201, { token });
    expect(await certificatesOf(token)).toEqual([]);
    // The two remaining lessons, each asked twice at once: one of them completes the course.
    const answers = await Promise.all(
      [1, 2, 1, 2].map(i => call("POST", `/lessons/${lessonIds[i]}/complete`, { token })),
    );
    expect(answers.map(a => a.status)).toEqual([201, 201, 201, 201]);

    const held = await certificatesOf(token);
    expect(held).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        courseId,
        courseTitle: "Café conversations",
        level: "B1",
        issuedAt: expect.any(String),
      },
    ]);
    certificateId = held[0].id as string;
    const events = await sql<{ payload: { data: Json } }>(
      dbUrl(),
      `SELECT payload FROM progress.outbox WHERE type = 'progress.course.completed' AND payload->'data'->>'userId' = $1`,
      [learner.id],
    );
    expect(events.map(e => e.payload.data.certificateId)).toEqual([certificateId]);
    const rows = await sql(dbUrl(), `SELECT id FROM progress.certificates WHERE user_id = $1`, [
      learner.id,
    ]);
    expect(rows).toHaveLength(1);
    // Completing a lesson again later issues nothing more.
    await expectOk("POST", `/lessons/${lessonIds[2]}/complete`, 201, { token });
    expect(await certificatesOf(token)).toHaveLength(1);
  });

  it("when anyone opens the verification data, then it shows name, course, level, date and valid — and nothing else", async () => {
    const res = await call("GET", `/certificates/${certificateId}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: certificateId,
      learnerName: "Zoë Łukasiewicz-Ångström",
      courseTitle: "Café conversations",
      level: "B1",
      issuedAt: (await certificatesOf(learner.token))[0].issuedAt,
      status: "valid",
    });
    const unknown = await call("GET", `/certificates/00000000-0000-4000-8000-000000000000`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 404, type: "CERTIFICATE_NOT_FOUND" });
  });

  it("when the course-completed notification arrives, then it links to the certificate's verification page", async () => {
    const link = await waitFor(async () => {
      const res = await call("GET", "/me/notifications", { token: learner.token });
      const rows = (res.body.rows ?? []) as Json[];
      return rows.find(n => n.kind === "course_completed")?.link as string | undefined;
    }, 20_000);
    expect(link).toBe(`${PUBLIC_URL}/certificates/${certificateId}`);
  });

  it("when the PDF is drawn by a browser, then the page shows the name, course, level and date, and its QR code opens the verification page", async () => {
    const pdf = await getBytes(`/certificates/${certificateId}/pdf`);
    expect(pdf.status).toBe(200);
    expect(pdf.type).toMatch(/^application\/pdf/);
    expect(pdf.bytes.subarray(0, 5).toString()).toBe("%PDF-");

    browser = await launchRenderer();
    const page = await renderFirstPage(browser, pdf.bytes);
    expect(page.pages).toBe(1);
    expect(page.width).toBeGreaterThan(page.height); // landscape
    expect(page.text).toContain("Zoë Łukasiewicz-Ångström");
    expect(page.text).toContain("Café conversations");
    expect(page.text).toContain("CEFR level B1");
    const issued = new Date((await certificatesOf(learner.token))[0].issuedAt as string);
    const day = issued.toLocaleDateString("en-GB", {
      day: "numeric",
      month: "long",
      year: "numeric",
      timeZone: "UTC",
    });
    expect(page.text).toContain(`Issued on ${day}`);
    expect(page.text).not.toContain("REVOKED");
    // Drawn, not only present: every character of these lines leaves ink on the page.
    for (const line of ["Zoë Łukasiewicz-Ångström", "Café conversations", "CEFR level B1"])
      expect(page.inkedShare(line)).toBeGreaterThanOrEqual(0.85);
    expect(page.qr).toBe(`${PUBLIC_URL}/certificates/${certificateId}`);
    const file = path.join(os.tmpdir(), `lingomesh-certificate-${process.pid}.png`);
    fs.writeFileSync(file, page.png);
  }, 60_000);

  it("when the credential is fetched, then it is an Open Badges 3.0 credential signed with the access-token key of /auth/jwks", async () => {
    const { payload, kid } = await verifiedCredential(certificateId);
    const keys = (await call("GET", "/auth/jwks")).body.keys as Json[];
    expect(keys.map(k => k.kid)).toContain(kid);

    // VC Data Model 2.0 and OB 3.0's OpenBadgeCredential: the required members.
    expect(payload["@context"]).toEqual([
      "https://www.w3.org/ns/credentials/v2",
      "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]);
    expect(payload.type).toEqual(
      expect.arrayContaining(["VerifiableCredential", "OpenBadgeCredential"]),
    );
    expect(payload.id).toBe(`${PUBLIC_URL}/api/v1/certificates/${certificateId}/credential`);
    expect(typeof payload.name).toBe("string");
    expect(payload.issuer).toMatchObject({ id: PUBLIC_URL, type: ["Profile"], name: "Lingomesh" });
    expect(new Date(payload.validFrom as string).toISOString()).toBe(payload.validFrom);
    // VC-JWT: the registered claims mirror the credential.
    expect(payload.iss).toBe(PUBLIC_URL);
    expect(payload.jti).toBe(payload.id);
    expect(payload.nbf).toBe(Math.floor(Date.parse(payload.validFrom as string) / 1000));
    expect(payload.aud).toBeUndefined();

    const subject = payload.credentialSubject as Json;
    expect(subject.type).toEqual(["AchievementSubject"]);
    expect(subject.identifier).toEqual([
      {
        type: "IdentityObject",
        identityType: "name",
        hashed: false,
        identityHash: "Zoë Łukasiewicz-Ångström",
      },
    ]);
    const achievement = subject.achievement as Json;
    expect(achievement).toMatchObject({
      id: `${PUBLIC_URL}/courses/${courseId}`,
      type: ["Achievement"],
      name: "Café conversations",
      description: expect.any(String),
      criteria: { narrative: expect.any(String) },
    });
    expect((achievement.alignment as Json[])[0]).toMatchObject({ targetCode: "B1" });
    const status = payload.credentialStatus as Json;
    expect(status).toMatchObject({
      type: "BitstringStatusListEntry",
      statusPurpose: "revocation",
      statusListCredential: `${PUBLIC_URL}/api/v1/credentials/status/revocation`,
    });
    expect(await revocationBit(Number(status.statusListIndex))).toBe(0);
  });

  it("when a credential is sent as a bearer token, then the gateway refuses it", async () => {
    const jws = (await call("GET", `/certificates/${certificateId}/credential`)).text;
    expect(decodeProtectedHeader(jws).typ).toBe("JWT");
    const res = await call("GET", "/me", { token: jws });
    expect(res.status).toBe(401);
  });

  it("when an admin revokes a certificate, then its verification, PDF and status list say revoked and another learner's stays valid", async () => {
    const other = await newLearner("Second Learner");
    await completeCourse(other.token);
    const [otherCertificate] = await certificatesOf(other.token);

    const byLearner = await call("POST", `/certificates/${certificateId}/revoke`, {
      token: learner.token,
      json: { reason: "mine" },
    });
    expect(byLearner.status).toBe(403);
    const noReason = await call("POST", `/certificates/${certificateId}/revoke`, {
      token: adminToken,
      json: {},
    });
    expect(noReason.status).toBe(422);
    expect((noReason.body.data as Json[]).map(d => d.field)).toEqual(["reason"]);
    const unknown = await call(
      "POST",
      `/certificates/00000000-0000-4000-8000-000000000000/revoke`,
      {
        token: adminToken,
        json: { reason: "x" },
      },
    );
    expect(unknown.status).toBe(404);

    const revoked = await call("POST", `/certificates/${certificateId}/revoke`, {
      token: adminToken,
      json: { reason: "Issued by mistake" },
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: certificateId, status: "revoked" });
    // Revoking again changes nothing and still answers.
    const again = await call("POST", `/certificates/${certificateId}/revoke`, {
      token: adminToken,
      json: { reason: "Another reason" },
    });
    expect(again.status).toBe(200);
    const [row] = await sql<{ revoked_reason: string }>(
      dbUrl(),
      `SELECT revoked_reason FROM progress.certificates WHERE id = $1`,
      [certificateId],
    );
    expect(row.revoked_reason).toBe("Issued by mistake");

    expect((await call("GET", `/certificates/${certificateId}`)).body.status).toBe("revoked");
    expect((await call("GET", `/certificates/${otherCertificate.id}`)).body.status).toBe("valid");

    const mine = await verifiedCredential(certificateId);
    const theirs = await verifiedCredential(otherCertificate.id as string);
    const indexOf = (p: JWTPayload) => Number((p.credentialStatus as Json).statusListIndex);
    expect(indexOf(mine.payload)).not.toBe(indexOf(theirs.payload));
    expect(await revocationBit(indexOf(mine.payload))).toBe(1);
    expect(await revocationBit(indexOf(theirs.payload))).toBe(0);

    browser ??= await launchRenderer();
    const pdf = await getBytes(`/certificates/${certificateId}/pdf`);
    expect((await renderFirstPage(browser, pdf.bytes)).text).toContain("REVOKED");
  }, 60_000);

  it("when anonymous verifications repeat, then the gateway answers them from its copy until a revocation or an erasure clears it", async () => {
    const erin = await newLearner("Erin");
    await completeCourse(erin.token);
    const [held] = await certificatesOf(erin.token);
    const route = `/certificates/${held.id as string}`;
    expect((await call("GET", route)).body.learnerName).toBe("Erin");
    // Behind progress's back: only an answer the gateway holds still says "Erin".
    await sql(dbUrl(), `UPDATE progress.certificates SET learner_name = 'Erin B.' WHERE id = $1`, [
      held.id,
    ]);
    expect((await call("GET", route)).body.learnerName).toBe("Erin");

    await call("DELETE", "/me", { token: erin.token, json: { password: PASSWORD } });
    await waitFor(
      async () =>
        (await sql(dbUrl(), `SELECT id FROM progress.certificates WHERE id = $1`, [held.id]))
          .length === 0,
      20_000,
    );
    // Cleared when the erasure committed, not when the copy expires (30 s).
    await waitFor(async () => (await call("GET", route)).status === 404, 2_000);
  }, 60_000);
});
