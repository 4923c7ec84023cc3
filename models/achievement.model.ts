/** GET /me/achievements */
export interface UnlockedAchievement {
  code: string;
  name: string;
  unlockedAt: string;
}
