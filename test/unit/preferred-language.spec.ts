import { preferredLanguage } from "../../models/user.model";

describe("a new account's language from Accept-Language", () => {
  it.each([
    ["es-MX,es;q=0.9,en;q=0.8", "es-MX"],
    ["fr;q=0.2, es-MX;q=0.9, *;q=0.5, en;q=0.8", "es-MX"],
    ["vi", "vi"],
    ["pt-br", "pt-BR"],
    ["en;q=0.5, de;q=0.5", "en"],
    ["*", null],
    ["es;q=0, en;q=0.1", "en"],
    ["not a tag!, es", "es"],
    ["", null],
    [undefined, null],
  ])("%j → %j", (header, language) => {
    expect(preferredLanguage(header)).toBe(language);
  });
});
