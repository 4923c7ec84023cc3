/** GET /topics row: topics of published courses with how many courses carry each. */
export interface TopicCount {
  slug: string;
  name: string;
  courseCount: number;
}

/** Courses the starter seed owns; no user account has this id. */
export const SYSTEM_AUTHOR_ID = "system";
