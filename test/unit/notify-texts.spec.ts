import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Texts } from "../../services/notify/texts";

/** In-app and push texts per locale (templates/locales/*.json), English where one is missing. */

describe("notification texts", () => {
  const texts = Texts.load();

  it("when the learner's locale has the text, then it is used, with the values filled in", () => {
    expect(texts.for("es")("achievement_unlocked.title", { name: "Racha" })).toBe(
      "Logro desbloqueado: Racha",
    );
    expect(texts.for("vi")("lesson_completed.title")).toBe("Đã hoàn thành bài học");
    expect(texts.for(null)("new_course.title", { title: "Travel" })).toBe("New course: Travel");
  });

  it("when only the base language has it, or the locale is unknown, then the base language, then English", () => {
    expect(texts.for("es-MX")("lesson_completed.title")).toBe("Lección completada");
    expect(texts.for("fr")("lesson_completed.title")).toBe("Lesson completed");
  });

  it("when a catalog lacks a text, then the English one is used", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "texts-"));
    fs.writeFileSync(path.join(dir, "en.json"), JSON.stringify({ a: "A {n}", b: "B" }));
    fs.writeFileSync(path.join(dir, "de.json"), JSON.stringify({ a: "Ä {n}" }));
    const local = Texts.load(dir);
    expect(local.for("de")("b")).toBe("B");
    // Numbers are formatted for the locale.
    expect(local.for("de")("a", { n: 12345 })).toBe("Ä 12.345");
    expect(local.for("en")("a", { n: 12345 })).toBe("A 12,345");
  });

  it("when every catalog is read, then each holds only keys English has", () => {
    const dir = path.resolve(__dirname, "..", "..", "templates", "locales");
    const english = Object.keys(JSON.parse(fs.readFileSync(path.join(dir, "en.json"), "utf8")));
    for (const file of fs.readdirSync(dir)) {
      const keys = Object.keys(JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")));
      expect(keys.filter(key => !english.includes(key))).toEqual([]);
    }
  });
});
