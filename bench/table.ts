/** One measured quantity, beside the peer measured in the same run where there is one. */
export interface BenchRow {
  measure: string;
  laneflow: string;
  peer?: string;
  peerValue?: string;
  target?: string;
  /**
   * Whether laneflow met the target. A row with a target and no verdict (its peer or tool could
   * not run) counts as missed, like `met: false`.
   */
  met?: boolean;
}

/** A missed target: met false, or a target that got no verdict. */
export function missed(row: BenchRow): boolean {
  return row.met === false || (row.target !== undefined && row.target !== '' && row.met === undefined);
}

export interface BenchSection {
  title: string;
  rows: BenchRow[];
  notes?: string[];
}

/** A bench module (`bench/*.bench.ts`) default-exports one of these. */
export type Bench = () => Promise<BenchSection>;

export function printSection(section: BenchSection): string {
  const header = ['measure', 'laneflow', 'peer', 'peer value', 'target', 'met'];
  const rows = section.rows.map((r) => [
    r.measure,
    r.laneflow,
    r.peer ?? '',
    r.peerValue ?? '',
    r.target ?? '',
    r.met === true ? 'yes' : missed(r) ? 'NO' : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    `## ${section.title}`,
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
    ...(section.notes ?? []).map((n) => `\n${n}`),
    '',
  ].join('\n');
}
