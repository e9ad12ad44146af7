import type { NodeKind, Shape } from '../compiler/types';

export const THEME_NAMES = ['light', 'dark'] as const;
export type ThemeName = (typeof THEME_NAMES)[number];

interface ShapeColours {
  fill: string;
  stroke: string;
}

export interface Theme {
  background: string;
  /** Lane bands alternate between these two fills. */
  bands: readonly [string, string];
  headerFill: string;
  laneBorder: string;
  laneText: string;
  text: string;
  mutedText: string;
  edge: string;
  edgeText: string;
  labelBackground: string;
  loop: string;
  divider: string;
  shapes: Record<Shape | 'start' | 'end', ShapeColours>;
}

export const THEMES: Record<ThemeName, Theme> = {
  light: {
    background: '#ffffff',
    bands: ['#f8fafc', '#f1f5f9'],
    headerFill: '#e2e8f0',
    laneBorder: '#cbd5e1',
    laneText: '#0f172a',
    text: '#0f172a',
    mutedText: '#475569',
    edge: '#475569',
    edgeText: '#1e293b',
    labelBackground: '#ffffff',
    loop: '#7c3aed',
    divider: '#bfdbfe',
    shapes: {
      rectangle: { fill: '#ffffff', stroke: '#64748b' },
      taskbox: { fill: '#eff6ff', stroke: '#3b82f6' },
      diamond: { fill: '#fef9c3', stroke: '#ca8a04' },
      circle: { fill: '#f1f5f9', stroke: '#64748b' },
      start: { fill: '#dcfce7', stroke: '#16a34a' },
      end: { fill: '#fee2e2', stroke: '#dc2626' },
    },
  },
  dark: {
    background: '#0b1120',
    bands: ['#111827', '#0f172a'],
    headerFill: '#1e293b',
    laneBorder: '#334155',
    laneText: '#e2e8f0',
    text: '#f1f5f9',
    mutedText: '#94a3b8',
    edge: '#94a3b8',
    edgeText: '#e2e8f0',
    labelBackground: '#0b1120',
    loop: '#a78bfa',
    divider: '#1e3a8a',
    shapes: {
      rectangle: { fill: '#1e293b', stroke: '#94a3b8' },
      taskbox: { fill: '#172554', stroke: '#60a5fa' },
      diamond: { fill: '#422006', stroke: '#facc15' },
      circle: { fill: '#1e293b', stroke: '#94a3b8' },
      start: { fill: '#052e16', stroke: '#4ade80' },
      end: { fill: '#450a0a', stroke: '#f87171' },
    },
  },
};

export function shapeColours(theme: Theme, shape: Shape, kind: NodeKind): ShapeColours {
  if (shape === 'circle' && (kind === 'start' || kind === 'end')) return theme.shapes[kind];
  return theme.shapes[shape];
}
