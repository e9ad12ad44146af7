import { describe, expect, it } from 'vitest';
import { renderPng } from '../../src/index';
import { MAX_PNG_PIXELS } from '../../src/render/png';

function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = Buffer.from(png);
  return { width: view.readUInt32BE(16), height: view.readUInt32BE(20) };
}

const svgOfSize = (width: number, height: number) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect width="${width}" height="${height}" fill="#fff"/></svg>`;

describe('renderPng', () => {
  it('draws at twice the SVG size by default', async () => {
    expect(pngSize(await renderPng(svgOfSize(300, 120)))).toEqual({ width: 600, height: 240 });
  });

  it('scales a huge diagram down to a bounded number of pixels, keeping its proportions', async () => {
    const { width, height } = pngSize(await renderPng(svgOfSize(60_000, 4_000)));
    expect(width * height).toBeLessThanOrEqual(MAX_PNG_PIXELS * 1.001);
    expect(width * height).toBeGreaterThan(MAX_PNG_PIXELS * 0.99);
    expect(width / height).toBeCloseTo(15, 1);
  });
});
