import { ADVANCE_BLOCKS } from './font-metrics';

/** Line height as a multiple of the font size. */
export const LINE_HEIGHT = 1.3;

// A glyph the table lacks is drawn from a fallback font whose width we cannot know: assume a
// generous width so the text still fits its shape. East Asian wide characters and emoji take
// a full em.
const NARROW_FALLBACK = 0.62;
const WIDE_FALLBACK = 1;

const advanceByCodePoint = new Map<number, number>();
for (const [first, widths] of ADVANCE_BLOCKS) {
  widths.forEach((width, index) => {
    if (width >= 0) advanceByCodePoint.set(first + index, width / 1000);
  });
}

function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    code >= 0x1f000
  );
}

/** The width of a text on one line, in pixels, from the fixed advance-width table. */
export function measureText(text: string, fontSize: number): number {
  let ems = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    ems += advanceByCodePoint.get(code) ?? (isWide(code) ? WIDE_FALLBACK : NARROW_FALLBACK);
  }
  return round(ems * fontSize);
}

/**
 * Breaks a text into lines no wider than `maxWidth`, at spaces where possible; a word wider
 * than the line on its own is cut between characters. Runs of whitespace count as one space.
 */
export function wrapText(text: string, maxWidth: number, fontSize: number): string[] {
  const words = text.split(/\s+/).filter((word) => word !== '');
  const lines: string[] = [];
  let current = '';
  for (const word of words) {
    const candidate = current === '' ? word : `${current} ${word}`;
    if (measureText(candidate, fontSize) <= maxWidth) {
      current = candidate;
      continue;
    }
    if (current !== '') lines.push(current);
    current = '';
    for (const piece of splitWord(word, maxWidth, fontSize)) {
      if (current !== '') lines.push(current);
      current = piece;
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

function splitWord(word: string, maxWidth: number, fontSize: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  for (const char of word) {
    if (piece !== '' && measureText(piece + char, fontSize) > maxWidth) {
      pieces.push(piece);
      piece = '';
    }
    piece += char;
  }
  if (piece !== '') pieces.push(piece);
  return pieces;
}

/** Rounds to hundredths, so coordinates print the same on every machine. */
export function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * Rounds a size up to an even whole number. Boxes and gaps sized so can be centred on whole
 * coordinates, which keeps the centres of equal rows exactly equal after any re-spacing.
 */
export function evenCeil(value: number): number {
  return 2 * Math.ceil(value / 2 - 1e-9);
}
