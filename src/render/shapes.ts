import type { FlowNode } from '../compiler/types';
import { evenCeil, LINE_HEIGHT, measureText, round, wrapText } from './text';
import type { TextLine, TextRole } from './types';

/** A node's shape size and its text lines, positioned relative to the shape's top-left corner. */
export interface SizedNode {
  width: number;
  height: number;
  lines: TextLine[];
}

export const FONT_SIZE = { label: 13, item: 12, meta: 11, edge: 11, lane: 14, loop: 11 } as const;

const RECTANGLE = { minWidth: 140, minHeight: 52, textWidth: 150, padX: 12, padY: 10 };
const DIAMOND = { minWidth: 110, minHeight: 64, textWidth: 104, padX: 6, padY: 4 };
const CIRCLE = { minDiameter: 52, textWidth: 84, pad: 8 };
const TASKBOX = { width: 210, padX: 12, padY: 10, gap: 6 };

interface TextBlock {
  text: string;
  role: TextRole;
  fontSize: number;
}

export function sizeNode(node: FlowNode): SizedNode {
  switch (node.shape) {
    case 'rectangle':
      return sizeRectangle(node);
    case 'diamond':
      return sizeDiamond(node);
    case 'circle':
      return sizeCircle(node);
    case 'taskbox':
      return sizeTaskbox(node);
  }
}

function labelOf(node: FlowNode): string {
  return node.label.trim() !== '' ? node.label : (node.description ?? node.owner ?? node.id);
}

function sizeRectangle(node: FlowNode): SizedNode {
  const texts = wrapText(labelOf(node), RECTANGLE.textWidth, FONT_SIZE.label);
  const { width: textWidth, height: textHeight } = blockSize(texts, FONT_SIZE.label);
  const width = evenCeil(Math.max(RECTANGLE.minWidth, textWidth + 2 * RECTANGLE.padX));
  const height = evenCeil(Math.max(RECTANGLE.minHeight, textHeight + 2 * RECTANGLE.padY));
  return { width, height, lines: centredLines(texts, 'label', FONT_SIZE.label, width, height) };
}

/**
 * A text block of w × h fits a diamond of W × H when w/W + h/H ≤ 1; the smallest such diamond
 * is twice the block in each direction, so the padded block is doubled.
 */
function sizeDiamond(node: FlowNode): SizedNode {
  const texts = wrapText(labelOf(node), DIAMOND.textWidth, FONT_SIZE.label);
  const { width: textWidth, height: textHeight } = blockSize(texts, FONT_SIZE.label);
  const width = evenCeil(Math.max(DIAMOND.minWidth, 2 * (textWidth + 2 * DIAMOND.padX)));
  const height = evenCeil(Math.max(DIAMOND.minHeight, 2 * (textHeight + 2 * DIAMOND.padY)));
  return { width, height, lines: centredLines(texts, 'label', FONT_SIZE.label, width, height) };
}

/** A text block fits a circle whose diameter is at least the block's diagonal. */
function sizeCircle(node: FlowNode): SizedNode {
  const texts = wrapText(labelOf(node), CIRCLE.textWidth, FONT_SIZE.label);
  const { width: textWidth, height: textHeight } = blockSize(texts, FONT_SIZE.label);
  const diameter = evenCeil(Math.max(CIRCLE.minDiameter, Math.hypot(textWidth, textHeight) + 2 * CIRCLE.pad));
  return { width: diameter, height: diameter, lines: centredLines(texts, 'label', FONT_SIZE.label, diameter, diameter) };
}

/**
 * A taskbox stacks its title, the `|` sub-items as bullet lines, then the description, owner
 * and system, each wrapped to the box's width and left-aligned like a card.
 */
function sizeTaskbox(node: FlowNode): SizedNode {
  const textWidth = TASKBOX.width - 2 * TASKBOX.padX;
  const [title = '', ...items] = labelOf(node)
    .split('|')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const blocks: TextBlock[] = [{ text: title, role: 'label', fontSize: FONT_SIZE.label }];
  for (const item of items) blocks.push({ text: `• ${item}`, role: 'item', fontSize: FONT_SIZE.item });
  const details: TextBlock[] = [];
  if (node.description !== undefined && node.description !== labelOf(node)) {
    details.push({ text: node.description, role: 'description', fontSize: FONT_SIZE.meta });
  }
  if (node.owner !== undefined) details.push({ text: `Owner: ${node.owner}`, role: 'owner', fontSize: FONT_SIZE.meta });
  if (node.system !== undefined) details.push({ text: `System: ${node.system}`, role: 'system', fontSize: FONT_SIZE.meta });

  const lines: TextLine[] = [];
  let y = TASKBOX.padY;
  const place = (block: TextBlock) => {
    for (const text of wrapText(block.text, textWidth, block.fontSize)) {
      const height = round(block.fontSize * LINE_HEIGHT);
      const box = { x: TASKBOX.padX, y: round(y), width: measureText(text, block.fontSize), height };
      lines.push({ text, box, fontSize: block.fontSize, role: block.role });
      y += height;
    }
  };
  blocks.forEach(place);
  if (details.length > 0) {
    y += TASKBOX.gap;
    details.forEach(place);
  }
  return { width: TASKBOX.width, height: evenCeil(Math.max(RECTANGLE.minHeight, y + TASKBOX.padY)), lines };
}

function blockSize(texts: readonly string[], fontSize: number): { width: number; height: number } {
  return {
    width: Math.max(0, ...texts.map((text) => measureText(text, fontSize))),
    height: round(texts.length * fontSize * LINE_HEIGHT),
  };
}

/** Lines centred horizontally and vertically in a width × height box. */
export function centredLines(
  texts: readonly string[],
  role: TextRole,
  fontSize: number,
  width: number,
  height: number,
): TextLine[] {
  const lineHeight = round(fontSize * LINE_HEIGHT);
  const top = (height - texts.length * lineHeight) / 2;
  return texts.map((text, index) => {
    const textWidth = measureText(text, fontSize);
    return {
      text,
      box: { x: round((width - textWidth) / 2), y: round(top + index * lineHeight), width: textWidth, height: lineHeight },
      fontSize,
      role,
    };
  });
}
