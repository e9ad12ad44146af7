export { layout } from './layout';
export { renderSvg, type RenderSvgOptions, type RenderHighlight } from './svg';
export { renderPng, type RenderPngOptions } from './png';
export { THEME_NAMES, type ThemeName } from './theme';
export type * from './types';
