/** SQL of the progress schema, one function a question, grouped by aggregate. */

export * from "./activity";
export * from "./read-model";
export * from "./read-model-rebuild";
export * from "./attempts";
export * from "./cards";
export * from "./certificates";
export * from "./courses";
export * from "./home";
export * from "./idempotency";
export * from "./leaderboard";
export * from "./learners";
export * from "./placement";
export * from "./practice";
export * from "./premium";
export * from "./review-waves";
export * from "./skills";
export * from "./sql";
export * from "./xapi";
