import crypto from "node:crypto";
import { seedId } from "../../services/content/seeder";
import { STARTER_COURSES } from "../../seeds/starter-course";
import type { AttemptAnswer } from "../../models/attempt.model";
import { mapLimit } from "./util";

/** One HTTP exchange with the gateway, always bounded by a client-side timeout. */
export interface Reply {
  status: number;
  body: unknown;
  ms: number;
  /** Network error or client timeout instead of an answer (status 0). */
  error?: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export async function call(
  apiUrl: string,
  method: string,
  path: string,
  opts: RequestOptions = {},
): Promise<Reply> {
  const started = performance.now();
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  try {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body, ms: performance.now() - started };
  } catch (err) {
    const error = err as Error;
    return { status: 0, body: undefined, ms: performance.now() - started, error: error.name };
  }
}

export interface Learner {
  id: string;
  email: string;
  password: string;
  accessToken: string;
}

export const PASSWORD = "correct horse battery staple 42";

export function learnerEmail(tag: string, index: number): string {
  return `${tag}-${index}@chaos.lingomesh.test`;
}

/** Registers one account over the public API (one Argon2id hash on the users node). */
export async function register(apiUrl: string, email: string): Promise<Reply> {
  return call(apiUrl, "POST", "/auth/register", {
    body: { email, password: PASSWORD, name: email.split("@")[0] },
    timeoutMs: 30_000,
  });
}

export async function registerLearners(
  apiUrl: string,
  tag: string,
  count: number,
  concurrency = 4,
): Promise<Learner[]> {
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async index => {
      const email = learnerEmail(tag, index);
      const reply = await register(apiUrl, email);
      if (reply.status !== 201) {
        throw new Error(`register ${email}: ${reply.status} ${JSON.stringify(reply.body)}`);
      }
      const body = reply.body as { user: { id: string }; accessToken: string };
      return { id: body.user.id, email, password: PASSWORD, accessToken: body.accessToken };
    },
  );
}

/** The starter A1 quiz: its id and a full set of correct answers (ids are stable seed ids). */
export function starterQuiz(): { courseId: string; lessonId: string; answers: AttemptAnswer[] } {
  const course = STARTER_COURSES[0];
  const lesson = course.lessons.find(l => l.kind === "quiz");
  if (!lesson?.questions) throw new Error("the starter course has no quiz");
  const base = `${course.key}/${lesson.key}`;
  return {
    courseId: seedId(course.key),
    lessonId: seedId(base),
    answers: lesson.questions.map((q, i) => ({
      questionId: seedId(`${base}/q${i + 1}`),
      value: (q as { answer: AttemptAnswer["value"] }).answer,
    })),
  };
}

export function idempotencyKey(): string {
  return crypto.randomUUID();
}
