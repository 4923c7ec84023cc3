/**
 * The achievement rule table. Each rule looks at a snapshot of the learner taken inside
 * the transaction that changed it; the (user_id, code) primary key makes every unlock
 * happen exactly once however many transactions race for it.
 */

export interface AchievementSnapshot {
  completedLessons: number;
  xp: number;
  streak: number;
  /** This change included a perfect quiz. */
  perfectQuiz: boolean;
  /** This change completed a course (or any course was completed before). */
  completedCourses: number;
}

export interface AchievementRule {
  code: string;
  name: string;
  description: string;
  unlocked(s: AchievementSnapshot): boolean;
}

export const ACHIEVEMENTS: readonly AchievementRule[] = [
  {
    code: "first_lesson",
    name: "First steps",
    description: "Complete your first lesson",
    unlocked: s => s.completedLessons >= 1,
  },
  {
    code: "perfect_quiz",
    name: "Flawless",
    description: "Answer every question of a quiz correctly",
    unlocked: s => s.perfectQuiz,
  },
  {
    code: "streak_3",
    name: "On a roll",
    description: "Keep a 3-day streak",
    unlocked: s => s.streak >= 3,
  },
  {
    code: "streak_7",
    name: "Week warrior",
    description: "Keep a 7-day streak",
    unlocked: s => s.streak >= 7,
  },
  {
    code: "streak_30",
    name: "Unstoppable",
    description: "Keep a 30-day streak",
    unlocked: s => s.streak >= 30,
  },
  { code: "xp_100", name: "Century", description: "Earn 100 XP", unlocked: s => s.xp >= 100 },
  { code: "xp_1000", name: "Scholar", description: "Earn 1000 XP", unlocked: s => s.xp >= 1000 },
  {
    code: "course_completed",
    name: "Graduate",
    description: "Complete every lesson of a course",
    unlocked: s => s.completedCourses >= 1,
  },
];

const byCode = new Map(ACHIEVEMENTS.map(rule => [rule.code, rule]));

export function achievementName(code: string): string {
  return byCode.get(code)?.name ?? code;
}

export function earnedAchievements(snapshot: AchievementSnapshot): AchievementRule[] {
  return ACHIEVEMENTS.filter(rule => rule.unlocked(snapshot));
}
