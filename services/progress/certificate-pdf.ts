import fs from "node:fs";
import fontkit from "@pdf-lib/fontkit";
import { PDFDocument, rgb, type PDFFont, type PDFPage } from "pdf-lib";
import QRCode from "qrcode";

/**
 * The printable certificate: an A4 landscape page with the learner's name, the course, its
 * CEFR level, the date, and a QR code of the public verification page. DejaVu Sans is embedded
 * (subset) so any name a learner may have in Latin, Greek or Cyrillic script prints as typed.
 */

export interface PrintedCertificate {
  learnerName: string;
  courseTitle: string;
  level: string;
  issuedAt: Date;
  verificationUrl: string;
  status: "valid" | "revoked";
}

const A4_LANDSCAPE: [number, number] = [841.89, 595.28];
const INK = rgb(0.11, 0.16, 0.27);
const ACCENT = rgb(0.15, 0.39, 0.78);
const MUTED = rgb(0.4, 0.44, 0.5);

let fonts: { regular: Buffer; bold: Buffer } | undefined;

/** Read once per process: the files ship with the dejavu-fonts-ttf package (fontkit subsets them cleanly). */
function fontFiles(): { regular: Buffer; bold: Buffer } {
  fonts ??= {
    regular: fs.readFileSync(require.resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf")),
    bold: fs.readFileSync(require.resolve("dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf")),
  };
  return fonts;
}

function centred(
  page: PDFPage,
  text: string,
  y: number,
  font: PDFFont,
  size: number,
  color = INK,
): void {
  const { width } = page.getSize();
  // A long course title is set smaller rather than running off the page.
  let fitted = size;
  while (fitted > 10 && font.widthOfTextAtSize(text, fitted) > width - 120) fitted -= 1;
  const x = (width - font.widthOfTextAtSize(text, fitted)) / 2;
  page.drawText(text, { x, y, size: fitted, font, color });
}

function longDate(at: Date): string {
  return at.toLocaleDateString("en-GB", {
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  });
}

export async function certificatePdf(c: PrintedCertificate): Promise<Buffer> {
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  doc.setTitle(`Certificate: ${c.courseTitle}`);
  doc.setAuthor("Lingomesh");
  doc.setSubject(`${c.learnerName} completed ${c.courseTitle} (${c.level})`);
  doc.setCreationDate(c.issuedAt);
  const files = fontFiles();
  const regular = await doc.embedFont(files.regular, { subset: true });
  const bold = await doc.embedFont(files.bold, { subset: true });
  const page = doc.addPage(A4_LANDSCAPE);
  const { width, height } = page.getSize();

  page.drawRectangle({
    x: 24,
    y: 24,
    width: width - 48,
    height: height - 48,
    borderColor: ACCENT,
    borderWidth: 3,
  });
  centred(page, "LINGOMESH", height - 90, bold, 16, ACCENT);
  centred(page, "Certificate of completion", height - 150, bold, 34);
  centred(page, "This certifies that", height - 200, regular, 14, MUTED);
  centred(page, c.learnerName, height - 250, bold, 32);
  centred(
    page,
    "has completed every lesson of the English course",
    height - 290,
    regular,
    14,
    MUTED,
  );
  centred(page, c.courseTitle, height - 335, bold, 24);
  centred(page, `CEFR level ${c.level}`, height - 370, regular, 16, ACCENT);
  page.drawText(`Issued on ${longDate(c.issuedAt)}`, {
    x: 70,
    y: 110,
    size: 13,
    font: regular,
    color: INK,
  });
  page.drawText("Verify this certificate:", {
    x: 70,
    y: 85,
    size: 10,
    font: regular,
    color: MUTED,
  });
  page.drawText(c.verificationUrl, { x: 70, y: 70, size: 10, font: regular, color: ACCENT });
  if (c.status === "revoked") {
    centred(page, "REVOKED", height / 2 - 20, bold, 96, rgb(0.8, 0.1, 0.1));
  }

  const qr = await QRCode.toBuffer(c.verificationUrl, {
    type: "png",
    errorCorrectionLevel: "M",
    margin: 1,
    scale: 8,
  });
  const image = await doc.embedPng(qr);
  const side = 120;
  page.drawImage(image, { x: width - 70 - side, y: 60, width: side, height: side });

  return Buffer.from(await doc.save());
}
