import { daysBetween } from "./clock";

/**
 * Streak arithmetic on the learner's local dates (see docs/learning-rules.md).
 *
 * - A day counts when the learner completes a lesson, submits an attempt or reviews a card.
 * - The streak grows by one on the first counted day after the previous one.
 * - Every FREEZE_EVERY days of streak earn a freeze (at most MAX_FREEZES held). A missed
 *   day is covered by a freeze automatically: the streak survives (frozen days do not add
 *   to its length). More missed days than freezes break it.
 * - A local date earlier than the last counted one (the learner moved west) counts as
 *   the same day: a time-zone move never breaks or double-counts a streak.
 */

const FREEZE_EVERY = 7;
export const MAX_FREEZES = 2;

export interface StreakState {
  current: number;
  longest: number;
  lastActiveDate: string | null;
  freezes: number;
}

export interface StreakChange {
  state: StreakState;
  /** The streak went up by one today (first counted activity of the day). */
  extended: boolean;
  freezesUsed: number;
  freezesEarned: number;
  broken: boolean;
}

export const EMPTY_STREAK: StreakState = {
  current: 0,
  longest: 0,
  lastActiveDate: null,
  freezes: 0,
};

export function recordActivity(state: StreakState, today: string): StreakChange {
  const unchanged = { state, extended: false, freezesUsed: 0, freezesEarned: 0, broken: false };
  if (state.lastActiveDate !== null && daysBetween(state.lastActiveDate, today) <= 0)
    return unchanged;

  let { current, freezes } = state;
  let freezesUsed = 0;
  let broken = false;
  if (state.lastActiveDate === null || current === 0) {
    current = 1;
  } else {
    const missed = daysBetween(state.lastActiveDate, today) - 1;
    if (missed <= freezes) {
      freezesUsed = missed;
      freezes -= missed;
      current += 1;
    } else {
      broken = true;
      current = 1;
    }
  }
  let freezesEarned = 0;
  if (current % FREEZE_EVERY === 0 && freezes < MAX_FREEZES) {
    freezes += 1;
    freezesEarned = 1;
  }
  return {
    state: { current, longest: Math.max(state.longest, current), lastActiveDate: today, freezes },
    extended: true,
    freezesUsed,
    freezesEarned,
    broken,
  };
}

/**
 * The streak as it stands on `today` without new activity: missed days before today use
 * up freezes; too many break it (current 0). Today itself is not missed yet.
 */
export function settle(state: StreakState, today: string): StreakState {
  if (state.lastActiveDate === null || state.current === 0) return { ...state, current: 0 };
  const missed = daysBetween(state.lastActiveDate, today) - 1;
  if (missed <= 0) return state;
  if (missed <= state.freezes) return { ...state, freezes: state.freezes - missed };
  return { ...state, current: 0 };
}

/** A streak is at risk when it is alive but today has not counted yet. */
export function atRisk(state: StreakState, today: string): boolean {
  if (state.lastActiveDate === null) return false;
  if (daysBetween(state.lastActiveDate, today) <= 0) return false;
  return settle(state, today).current > 0;
}
