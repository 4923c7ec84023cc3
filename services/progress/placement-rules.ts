import { CEFR_LEVELS, type CefrLevel } from "../../models/course.model";
import type { BankLevel, PlacementResult } from "../../models/placement.model";

/**
 * The placement model (docs/learning-rules.md, "Placement"): a Rasch (one-parameter logistic)
 * model — a learner of ability θ answers a question of difficulty b correctly with probability
 * 1 / (1 + e^-(θ - b)) — with the difficulty given by the question's CEFR level. The ability is
 * estimated after each answer as the mean of its posterior (EAP) on a grid, from a normal prior;
 * the next question is the unused one with the most information p(1 - p) at that estimate; the
 * test stops at MAX_QUESTIONS or once the posterior's standard deviation is below TARGET_SE.
 * Pure functions: the use cases (placement.ts) and the simulation test call them alike.
 */

export const PLACEMENT_RULES = {
  /** Difficulty (logits) of a question of each level: one logit a level, B1 in the middle. */
  difficulty: { A1: -2, A2: -1, B1: 0, B2: 1, C1: 2 } satisfies Record<BankLevel, number>,
  /** The prior on ability: most learners sit between A1 and C1. */
  prior: { mean: 0, sd: 1.5 },
  maxQuestions: 20,
  /** Stop earlier once the estimate's standard error is below this (half a level). */
  targetSe: 0.5,
  /** The grid the posterior is computed on, in logits. */
  grid: { from: -5, to: 5, step: 0.1 },
  /**
   * The lowest ability placed at each level above A1: half way between two levels' difficulties
   * (C2, above the bank, from 2.5).
   */
  cutoffs: { A2: -1.5, B1: -0.5, B2: 0.5, C1: 1.5, C2: 2.5 } satisfies Record<
    Exclude<CefrLevel, "A1">,
    number
  >,
} as const;

/** One graded answer: the difficulty of the question and whether it was right. */
export interface PlacementResponse {
  difficulty: number;
  correct: boolean;
}

/** What the selector needs of a bank question. */
export interface SelectableItem {
  id: string;
  level: BankLevel;
  skills: readonly string[];
}

export interface AbilityEstimate {
  /** The posterior mean (EAP), in logits. */
  ability: number;
  /** The posterior's standard deviation: the estimate's standard error. */
  se: number;
  /** The posterior over the grid (sums to 1). */
  posterior: number[];
}

/** The probability of a right answer under the Rasch model. */
export function probabilityCorrect(ability: number, difficulty: number): number {
  return 1 / (1 + Math.exp(difficulty - ability));
}

/** Fisher information of a Rasch item at an ability: p(1 - p), largest (0.25) where p = ½. */
export function information(ability: number, difficulty: number): number {
  const p = probabilityCorrect(ability, difficulty);
  return p * (1 - p);
}

export function difficultyOf(level: BankLevel): number {
  return PLACEMENT_RULES.difficulty[level];
}

const GRID: number[] = (() => {
  const { from, to, step } = PLACEMENT_RULES.grid;
  const points: number[] = [];
  for (let i = 0; from + i * step <= to + 1e-9; i += 1) points.push(from + i * step);
  return points;
})();

/** EAP estimate of the ability after these answers (the prior alone before any). */
export function estimateAbility(responses: readonly PlacementResponse[]): AbilityEstimate {
  const { mean, sd } = PLACEMENT_RULES.prior;
  // Log densities first (twenty answers' product underflows no double, but sums are exact enough).
  const logs = GRID.map(theta => {
    let log = -((theta - mean) ** 2) / (2 * sd * sd);
    for (const r of responses) {
      const p = probabilityCorrect(theta, r.difficulty);
      log += Math.log(r.correct ? p : 1 - p);
    }
    return log;
  });
  const top = Math.max(...logs);
  const weights = logs.map(log => Math.exp(log - top));
  const total = weights.reduce((sum, w) => sum + w, 0);
  const posterior = weights.map(w => w / total);
  const ability = posterior.reduce((sum, w, i) => sum + w * GRID[i], 0);
  const variance = posterior.reduce((sum, w, i) => sum + w * (GRID[i] - ability) ** 2, 0);
  return { ability, se: Math.sqrt(variance), posterior };
}

/** The level whose band holds this ability (PLACEMENT_RULES.cutoffs). */
export function levelOf(ability: number): CefrLevel {
  let level: CefrLevel = "A1";
  for (const candidate of CEFR_LEVELS) {
    if (candidate !== "A1" && ability >= PLACEMENT_RULES.cutoffs[candidate]) level = candidate;
  }
  return level;
}

/** The level and the posterior probability that the ability lies in that level's band. */
export function placementResult(estimate: AbilityEstimate): PlacementResult {
  const level = levelOf(estimate.ability);
  const mass = estimate.posterior.reduce(
    (sum, w, i) => (levelOf(GRID[i]) === level ? sum + w : sum),
    0,
  );
  return { level, confidence: Math.round(mass * 1000) / 1000 };
}

/** The test stops at the question limit or once the estimate is confident (and when the bank runs out). */
export function isFinished(answered: number, estimate: AbilityEstimate): boolean {
  return answered >= PLACEMENT_RULES.maxQuestions || estimate.se < PLACEMENT_RULES.targetSe;
}

/**
 * The unused question most informative at the ability estimate; among equally informative
 * ones (a level's questions share their difficulty), one whose skills were tested least so
 * far, then one drawn with `random` (0 ≤ x < 1) so two learners do not meet the same test.
 */
export function nextItem<T extends SelectableItem>(
  bank: readonly T[],
  asked: readonly T[],
  ability: number,
  random: () => number,
): T | undefined {
  const used = new Set(asked.map(item => item.id));
  const unused = bank.filter(item => !used.has(item.id));
  if (unused.length === 0) return undefined;
  const skillCounts = new Map<string, number>();
  for (const item of asked)
    for (const skill of item.skills) skillCounts.set(skill, (skillCounts.get(skill) ?? 0) + 1);
  const exposure = (item: T) =>
    item.skills.reduce((sum, skill) => sum + (skillCounts.get(skill) ?? 0), 0);
  const best = Math.max(...unused.map(item => information(ability, difficultyOf(item.level))));
  const mostInformative = unused.filter(
    item => information(ability, difficultyOf(item.level)) >= best - 1e-12,
  );
  const leastExposure = Math.min(...mostInformative.map(exposure));
  const candidates = mostInformative.filter(item => exposure(item) === leastExposure);
  return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))];
}
