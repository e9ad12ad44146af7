import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface RenderPngOptions {
  /** Pixels per SVG unit; 2 gives sharp text on high-density screens. */
  scale?: number;
}

/**
 * Rasterises an SVG written by `renderSvg`. Text is drawn with the Open Sans face that svgdom
 * ships, the face the layout measured, so labels fill their shapes as planned; glyphs it lacks
 * come from the system's fonts.
 */
export async function renderPng(svg: string, options: RenderPngOptions = {}): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  const svgdomEntry = createRequire(import.meta.url).resolve('svgdom');
  const resvg = new Resvg(svg, {
    font: {
      fontFiles: [join(dirname(svgdomEntry), 'fonts', 'OpenSans-Regular.ttf')],
      loadSystemFonts: true,
      defaultFontFamily: 'Open Sans',
    },
    fitTo: { mode: 'zoom', value: options.scale ?? 2 },
  });
  return resvg.render().asPng();
}
