const REVIEW_RATINGS = ["again", "hard", "good", "easy"] as const;
export type ReviewRating = (typeof REVIEW_RATINGS)[number];

/** GET /me/reviews/due */
export interface DueCard {
  cardId: string;
  lessonId: string;
  front: string;
  back: string;
  due: string;
}

/** POST /me/reviews → 200 */
export interface ReviewResult {
  lessonId: string;
  cardId: string;
  due: string;
  stability: number;
  difficulty: number;
  xpEarned: number;
}

/** A card id is its lesson's (api.md, Content): the lesson names which card is meant. */
export const reviewParams = {
  $$strict: true,
  lessonId: { type: "string", min: 1, max: 100 },
  cardId: { type: "string", min: 1, max: 64 },
  rating: { type: "enum", values: [...REVIEW_RATINGS] },
} as const;
