import type { TopicCount } from "../../models/content.model";

/** "Daily life" → "daily-life": courses store slugs; the filter and GET /topics use them. */
export function topicSlug(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/&/g, " and ")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

export function topicSlugs(names: string[]): string[] {
  return [...new Set(names.map(topicSlug).filter(slug => slug.length > 0))];
}

/** Display names of well-known topics; any other slug is shown title-cased. */
const NAMES: Record<string, string> = {
  greetings: "Greetings",
  introductions: "Introductions",
  "everyday-english": "Everyday English",
  "daily-life": "Daily life",
  travel: "Travel",
  transport: "Transport",
  "hotels-and-accommodation": "Hotels and accommodation",
  "food-and-drink": "Food and drink",
  shopping: "Shopping",
  work: "Work",
  business: "Business",
  health: "Health",
  grammar: "Grammar",
  vocabulary: "Vocabulary",
  pronunciation: "Pronunciation",
  conversation: "Conversation",
};

export function topicName(slug: string): string {
  return NAMES[slug] ?? slug.charAt(0).toUpperCase() + slug.slice(1).replace(/-/g, " ");
}

export function topicRows(counts: Array<{ slug: string; count: number }>): TopicCount[] {
  return counts
    .map(({ slug, count }) => ({ slug, name: topicName(slug), courseCount: count }))
    .sort((a, b) => b.courseCount - a.courseCount || a.slug.localeCompare(b.slug));
}
