import type { Cluster } from "../cluster";
import { call, idempotencyKey, registerLearners, starterQuiz, type Learner } from "../http";
import { runLoad, summarize, type LoadRun } from "../load";
import { round } from "../util";

/**
 * Shared by the kill -9 and SIGTERM drills: learners submitting graded quiz attempts
 * (POST /lessons/:id/attempts, a fresh Idempotency-Key per request) at the gateway
 * while one of the two progress nodes goes away.
 */

/** Registered once per cluster: drills 13 and 15 run on clusters of their own. */
const learnersOf = new WeakMap<Cluster, Promise<Learner[]>>();

function attemptLearners(cluster: Cluster): Promise<Learner[]> {
  let learners = learnersOf.get(cluster);
  if (!learners) {
    learners = registerLearners(cluster.apiUrl, `attempts-${cluster.namespace}`, 24);
    learnersOf.set(cluster, learners);
  }
  return learners;
}

export async function attemptLoad(
  cluster: Cluster,
  opts: { durationMs: number; concurrency: number; faultAtMs: number; fault: () => Promise<void> },
): Promise<{ run: LoadRun; keys: string[] }> {
  const pool = await attemptLearners(cluster);
  const quiz = starterQuiz();
  const keys: string[] = [];
  const run = await runLoad({
    durationMs: opts.durationMs,
    concurrency: opts.concurrency,
    send: async i => {
      const learner = pool[i % pool.length];
      const key = idempotencyKey();
      keys.push(key);
      return call(cluster.apiUrl, "POST", `/lessons/${quiz.lessonId}/attempts`, {
        token: learner.accessToken,
        body: { answers: quiz.answers },
        headers: { "Idempotency-Key": key },
        timeoutMs: 20_000,
      });
    },
    ok: reply => reply.status === 201,
    at: [{ ms: opts.faultAtMs, run: opts.fault }],
  });
  return { run, keys };
}

export interface FailureWindow {
  /** Seconds from the fault to the end of the last failed request (0: none failed). */
  untilNoFailures: number;
  firstFailureAfter: number | null;
}

export function failureWindow(run: LoadRun): FailureWindow {
  const fault = run.marks[0] ?? 0;
  const failed = run.samples.filter(s => !s.ok);
  if (failed.length === 0) return { untilNoFailures: 0, firstFailureAfter: null };
  const last = Math.max(...failed.map(s => s.endMs));
  const first = Math.min(...failed.map(s => s.startMs));
  return {
    untilNoFailures: round(Math.max(0, last - fault) / 1000),
    firstFailureAfter: round((first - fault) / 1000),
  };
}

/**
 * "No attempt graded twice", checked in the database: every attempt row belongs to the
 * settled answer of exactly one Idempotency-Key, every key names one attempt, and every
 * attempt earned XP exactly once.
 */
export async function gradedTwiceCheck(cluster: Cluster): Promise<{
  attempts: number;
  keys: number;
  attemptsWithoutKey: number;
  keysWithoutAttempt: number;
  keysSharingAnAttempt: number;
  xpRowsPerAttemptOff: number;
  /** Attempts graded more than once by any of the measures above: the drills' target is 0. */
  gradedTwice: number;
}> {
  const [row] = await cluster.sql<Record<string, string>>(`
    SELECT
      (SELECT count(*) FROM progress.attempts) AS attempts,
      (SELECT count(*) FROM progress.idempotency_keys WHERE scope = 'attempt') AS keys,
      (SELECT count(*) FROM progress.attempts a WHERE NOT EXISTS (
         SELECT 1 FROM progress.idempotency_keys k
         WHERE k.scope = 'attempt' AND k.response->>'attemptId' = a.id)) AS attempts_without_key,
      (SELECT count(*) FROM progress.idempotency_keys k WHERE k.scope = 'attempt' AND NOT EXISTS (
         SELECT 1 FROM progress.attempts a WHERE a.id = k.response->>'attemptId')) AS keys_without_attempt,
      (SELECT count(*) FROM (SELECT k.response->>'attemptId' FROM progress.idempotency_keys k
         WHERE k.scope = 'attempt' GROUP BY 1 HAVING count(*) > 1) d) AS keys_sharing,
      (SELECT count(*) FROM (SELECT a.id FROM progress.attempts a
         LEFT JOIN progress.xp_ledger x ON x.reason = 'attempt' AND x.ref = a.id
         GROUP BY a.id, a.xp_earned
         HAVING count(x.id) <> CASE WHEN a.xp_earned > 0 THEN 1 ELSE 0 END) d) AS xp_off
  `);
  const found = {
    attempts: Number(row.attempts),
    keys: Number(row.keys),
    attemptsWithoutKey: Number(row.attempts_without_key),
    keysWithoutAttempt: Number(row.keys_without_attempt),
    keysSharingAnAttempt: Number(row.keys_sharing),
    xpRowsPerAttemptOff: Number(row.xp_off),
  };
  const gradedTwice =
    found.attemptsWithoutKey +
    found.keysSharingAnAttempt +
    found.xpRowsPerAttemptOff +
    found.keysWithoutAttempt;
  return { ...found, gradedTwice };
}

export function loadFigures(run: LoadRun): ReturnType<typeof summarize> & { rps: number } {
  const summary = summarize(run.samples);
  const span = Math.max(1, ...run.samples.map(s => s.endMs)) / 1000;
  return { ...summary, rps: round(summary.requests / span, 1) };
}
