import { readFileSync } from 'node:fs';
import { Lexer, type Token, type Tokens } from 'marked';
import { repoRoot } from '../helpers/cases';

export const readmePath = `${repoRoot}README.md`;

/** The README as marked's block tokens. */
export function readmeTokens(): Token[] {
  return Lexer.lex(readFileSync(readmePath, 'utf8'));
}

/** The block tokens of the README's `## title` section, up to the next `##` heading. */
export function section(tokens: readonly Token[], title: string): Token[] {
  const start = tokens.findIndex((t) => t.type === 'heading' && (t as Tokens.Heading).depth === 2 && (t as Tokens.Heading).text === title);
  if (start === -1) throw new Error(`README has no section "## ${title}"`);
  const end = tokens.findIndex((t, i) => i > start && t.type === 'heading' && (t as Tokens.Heading).depth <= 2);
  return tokens.slice(start + 1, end === -1 ? undefined : end);
}

export interface CodeBlock {
  lang: string;
  text: string;
  /** The paragraph right after the block, as written; '' when something else follows. */
  after: string;
}

/** The fenced code blocks of a run of tokens, with the paragraph each is followed by. */
export function codeBlocks(tokens: readonly Token[], lang: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  tokens.forEach((token, index) => {
    if (token.type !== 'code' || (token as Tokens.Code).lang !== lang) return;
    const next = tokens.slice(index + 1).find((t) => t.type !== 'space');
    blocks.push({ lang, text: (token as Tokens.Code).text + '\n', after: next?.type === 'paragraph' ? (next as Tokens.Paragraph).raw : '' });
  });
  return blocks;
}

/** The paragraph of a section whose text begins with `start`. */
export function paragraph(tokens: readonly Token[], start: string): Tokens.Paragraph {
  const found = tokens.find((t): t is Tokens.Paragraph => t.type === 'paragraph' && (t as Tokens.Paragraph).raw.startsWith(start));
  if (found === undefined) throw new Error(`no paragraph beginning "${start}"`);
  return found;
}

/** The inline code spans of a paragraph, in order. */
export function codeSpans(paragraphToken: Tokens.Paragraph): string[] {
  return paragraphToken.tokens.flatMap((t) => (t.type === 'codespan' ? [unescapeHtml((t as Tokens.Codespan).text)] : []));
}

/** The cells of every table of a run of tokens whose first column is headed `firstHeader`, as written. */
export function tables(tokens: readonly Token[], firstHeader: string): string[][][] {
  return tokens
    .filter((t): t is Tokens.Table => t.type === 'table' && (t as Tokens.Table).header[0]?.text === firstHeader)
    .map((table) => table.rows.map((row) => row.map((cell) => cell.text)));
}

/** The cells of the first such table. */
export function tableRows(tokens: readonly Token[], firstHeader: string): string[][] {
  const [table] = tables(tokens, firstHeader);
  if (table === undefined) throw new Error(`no table headed "${firstHeader}"`);
  return table;
}

/** The names in backticks of a cell: `` `createdAt`, `updatedAt` `` gives both. */
export function namesIn(cell: string): string[] {
  return [...cell.matchAll(/`([A-Za-z-]+)`/g)].map((match) => match[1]!);
}

/** marked escapes `&<>"'` in code spans for HTML; the README's text is what a reader copies. */
function unescapeHtml(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
