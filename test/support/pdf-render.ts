import fs from "node:fs";
import path from "node:path";
import jsQR from "jsqr";
import { chromium, type Browser } from "playwright-core";
import { PNG } from "pngjs";
import { requireTool } from "../deploy/deploy-support";

/**
 * A PDF looked at as a person would: PDF.js draws its first page in a real headless Chromium,
 * and the page comes back as a PNG, with the text PDF.js reads from it and any QR code on it.
 */

export interface RenderedPage {
  png: Buffer;
  width: number;
  height: number;
  pages: number;
  text: string;
  /** The QR code's content found in the image, or null. */
  qr: string | null;
  /**
   * How much of a line of text is really drawn: its box (as PDF.js places it) cut in one slice
   * per character, the share of slices with ink in them. A font whose glyphs did not make it into
   * the file leaves the text readable to a parser but blank on the page: a low share.
   */
  inkedShare(line: string): number;
}

interface TextBox {
  str: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

const ORIGIN = "http://pdf-render.test";
const PDFJS_DIR = path.dirname(require.resolve("pdfjs-dist/package.json"));
const FILES: Record<string, { file?: string; body?: string; type: string }> = {
  "/": { body: "<!doctype html><meta charset=utf-8><title>render</title>", type: "text/html" },
  "/pdf.mjs": { file: path.join(PDFJS_DIR, "build", "pdf.min.mjs"), type: "text/javascript" },
  "/pdf.worker.mjs": {
    file: path.join(PDFJS_DIR, "build", "pdf.worker.min.mjs"),
    type: "text/javascript",
  },
};

export async function launchRenderer(): Promise<Browser> {
  return chromium.launch({
    executablePath: requireTool("chromium"),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
}

// A string, not a function: the test's compiler would turn `import()` into `require()`.
const RENDER = `async ({ data, scale }) => {
  const pdfjs = await import("${ORIGIN}/pdf.mjs");
  pdfjs.GlobalWorkerOptions.workerSrc = "${ORIGIN}/pdf.worker.mjs";
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  const doc = await pdfjs.getDocument({ data: bytes }).promise;
  const page = await doc.getPage(1);
  const viewport = page.getViewport({ scale });
  const canvas = document.createElement("canvas");
  canvas.width = Math.ceil(viewport.width);
  canvas.height = Math.ceil(viewport.height);
  await page.render({ canvas, canvasContext: canvas.getContext("2d"), viewport }).promise;
  const items = (await page.getTextContent()).items;
  const boxes = items.map(item => {
    const [x, y] = viewport.convertToViewportPoint(item.transform[4], item.transform[5]);
    return { str: item.str, x, y, width: item.width * scale, height: item.height * scale };
  });
  const text = items.map(item => item.str).join("\\n");
  return { png: canvas.toDataURL("image/png").split(",")[1], pages: doc.numPages, text, boxes };
}`;

function inkedShare(image: PNG, box: TextBox, slices: number): number {
  const dark = (x: number, y: number) => {
    const i = (Math.round(y) * image.width + Math.round(x)) * 4;
    return image.data[i] + image.data[i + 1] + image.data[i + 2] < 3 * 160;
  };
  let inked = 0;
  for (let s = 0; s < slices; s++) {
    const from = box.x + (box.width * s) / slices;
    const to = box.x + (box.width * (s + 1)) / slices;
    let found = false;
    for (let x = Math.ceil(from); x < to && !found; x++)
      for (let y = box.y - box.height * 0.8; y < box.y && !found; y++) found = dark(x, y);
    if (found) inked++;
  }
  return inked / slices;
}

export async function renderFirstPage(
  browser: Browser,
  pdf: Buffer,
  scale = 2,
): Promise<RenderedPage> {
  const page = await browser.newPage();
  try {
    await page.route(`${ORIGIN}/**`, route => {
      const served = FILES[new URL(route.request().url()).pathname];
      if (!served) return route.fulfill({ status: 404, body: "" });
      return route.fulfill({
        status: 200,
        contentType: served.type,
        body: served.file ? fs.readFileSync(served.file) : served.body,
      });
    });
    await page.goto(`${ORIGIN}/`);
    const input = JSON.stringify({ data: pdf.toString("base64"), scale });
    const drawn = await page.evaluate<{
      png: string;
      pages: number;
      text: string;
      boxes: TextBox[];
    }>(`(${RENDER})(${input})`);
    const png = Buffer.from(drawn.png, "base64");
    const image = PNG.sync.read(png);
    const qr = jsQR(new Uint8ClampedArray(image.data), image.width, image.height);
    return {
      png,
      width: image.width,
      height: image.height,
      pages: drawn.pages,
      text: drawn.text,
      qr: qr?.data ?? null,
      inkedShare(line) {
        const box = drawn.boxes.find(b => b.str === line);
        if (!box) throw new Error(`no text "${line}" on the page`);
        return inkedShare(image, box, [...line].length);
      },
    };
  } finally {
    await page.close();
  }
}
