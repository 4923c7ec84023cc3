import type * as ResvgModule from "@resvg/resvg-js";

/**
 * The digest's "XP this week" chart: a bar per day drawn as SVG and rendered to PNG on the
 * server with resvg (mail clients show a PNG; many show no SVG), with the DejaVu fonts
 * that ship as a package, so every node draws the same pixels whatever fonts it has.
 */

export interface ChartDay {
  /** The label under the bar ("Mon"). */
  label: string;
  xp: number;
}

const WIDTH = 520;
const HEIGHT = 220;
const TOP = 28;
const BOTTOM = 36;
const SIDE = 16;
const BAR_COLOUR = "#4f46e5";
const EMPTY_COLOUR = "#e5e7eb";

const FONT_FILES = [
  require.resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf"),
  require.resolve("dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf"),
];

const escapeXml = (value: string): string =>
  value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function weekChartSvg(days: ChartDay[]): string {
  const most = Math.max(1, ...days.map(day => day.xp));
  const slot = (WIDTH - 2 * SIDE) / days.length;
  const barWidth = Math.round(slot * 0.6);
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const bars = days.map((day, i) => {
    const x = Math.round(SIDE + i * slot + (slot - barWidth) / 2);
    const centre = Math.round(SIDE + i * slot + slot / 2);
    const height = day.xp > 0 ? Math.max(4, Math.round((day.xp / most) * plotHeight)) : 4;
    const y = TOP + plotHeight - height;
    return [
      `<rect x="${x}" y="${y}" width="${barWidth}" height="${height}" rx="4" fill="${day.xp > 0 ? BAR_COLOUR : EMPTY_COLOUR}"/>`,
      `<text x="${centre}" y="${y - 8}" text-anchor="middle" font-size="13" font-weight="bold" fill="#111827">${day.xp}</text>`,
      `<text x="${centre}" y="${HEIGHT - 12}" text-anchor="middle" font-size="13" fill="#6b7280">${escapeXml(day.label)}</text>`,
    ].join("");
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="DejaVu Sans"><rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/><line x1="${SIDE}" y1="${HEIGHT - BOTTOM}" x2="${WIDTH - SIDE}" y2="${HEIGHT - BOTTOM}" stroke="#d1d5db"/>${bars.join("")}</svg>`;
}

/** resvg's native renderer is loaded with the first chart (a digest, a preview), not with the node. */
function renderer(): typeof ResvgModule.Resvg {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Resvg }: typeof ResvgModule = require("@resvg/resvg-js");
  return Resvg;
}

/** The chart as PNG bytes (twice the CSS size, sharp on high-density screens). */
export function weekChartPng(days: ChartDay[]): Buffer {
  const Resvg = renderer();
  const png = new Resvg(weekChartSvg(days), {
    fitTo: { mode: "width", value: WIDTH * 2 },
    font: { fontFiles: FONT_FILES, loadSystemFonts: false, defaultFontFamily: "DejaVu Sans" },
  })
    .render()
    .asPng();
  return Buffer.from(png);
}
