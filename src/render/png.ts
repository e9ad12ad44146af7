import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface RenderPngOptions {
  /** Pixels per SVG unit; 2 gives sharp text on high-density screens. Lowered for huge diagrams. */
  scale?: number;
}

/**
 * The most pixels a PNG gets (256 MB of RGBA while drawing): a 500-node flow is tens of
 * thousands of units wide, and at full scale would need gigabytes.
 */
export const MAX_PNG_PIXELS = 64_000_000;

// Where Debian (and most Linux systems) keep DejaVu Sans: a regular face covering arrows and
// symbols. Left to choose among all system fonts, resvg may take a bold or oblique face for a
// missing glyph and keep it for the rest of the line.
const FALLBACK_FACE = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

/**
 * Rasterises an SVG written by `renderSvg`. Text is drawn with the Open Sans face that svgdom
 * ships, the face the layout measured, so labels fill their shapes as planned; glyphs it lacks
 * come from DejaVu Sans where it is installed, else from the system's fonts.
 */
export async function renderPng(svg: string, options: RenderPngOptions = {}): Promise<Uint8Array> {
  const [{ Resvg }, { createRequire }] = await Promise.all([import('@resvg/resvg-js'), import('node:module')]);
  const svgdomEntry = createRequire(import.meta.url).resolve('svgdom');
  const hasFallback = existsSync(FALLBACK_FACE);
  const resvg = new Resvg(svg, {
    font: {
      fontFiles: [join(dirname(svgdomEntry), 'fonts', 'OpenSans-Regular.ttf'), ...(hasFallback ? [FALLBACK_FACE] : [])],
      loadSystemFonts: !hasFallback,
      defaultFontFamily: 'Open Sans',
    },
    fitTo: { mode: 'zoom', value: pngScale(svg, options.scale ?? 2) },
  });
  return resvg.render().asPng();
}

/** The requested scale, or less where the picture would pass MAX_PNG_PIXELS. */
function pngScale(svg: string, requested: number): number {
  const root = /<svg[^>]*>/.exec(svg)?.[0] ?? '';
  const width = Number(/\swidth="([\d.]+)"/.exec(root)?.[1] ?? 0);
  const height = Number(/\sheight="([\d.]+)"/.exec(root)?.[1] ?? 0);
  const pixels = width * height * requested * requested;
  return pixels > MAX_PNG_PIXELS ? requested * Math.sqrt(MAX_PNG_PIXELS / pixels) : requested;
}
