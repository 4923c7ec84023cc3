/**
 * The words a MongoDB search matches on (FerretDB v1 has no `$text` index, and a token
 * array works the same on MongoDB): lower-cased, accents dropped, English stop words left
 * out, plurals and -ing/-ed forms reduced to a common stem, so "introduce yourself" finds
 * "introduce" and "hotels" finds "hotel". Documents and queries go through the same steps.
 */

// The common function words of PostgreSQL's `english` dictionary, which the other store uses.
const STOP_WORDS = new Set(
  (
    "a about above after again against all am an and any are as at be because been before being " +
    "below between both but by can did do does doing down during each few for from further had has " +
    "have having he her here hers herself him himself his how i if in into is it its itself just me " +
    "more most my myself no nor not now of off on once only or other our ours ourselves out over own " +
    "same she should so some such than that the their theirs them themselves then there these they " +
    "this those through to too under until up very was we were what when where which while who whom " +
    "why will with you your yours yourself yourselves"
  ).split(" "),
);

function stem(word: string): string {
  let w = word.replace(/'s$/, "");
  if (w.length > 4 && w.endsWith("ies")) w = `${w.slice(0, -3)}y`;
  else if (w.length > 4 && /(ss|x|ch|sh)es$/.test(w)) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith("s") && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.length > 5 && w.endsWith("ing")) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith("ed")) w = w.slice(0, -2);
  return w;
}

export function searchTokens(text: string): string[] {
  const words = text
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .split(/[^\p{L}\p{N}']+/u)
    .map(word => word.replace(/^'+|'+$/g, ""))
    .filter(word => word.length > 0 && !STOP_WORDS.has(word));
  return [...new Set(words.map(stem))];
}
