/** One reliability check: what was tried, what was injected, and what went missing or twice. */
export interface ReliabilityRow {
  check: string;
  cases: number;
  /** Faults injected (kills, bad requests, corrupt inputs…); 0 where the check injects none. */
  faults: number;
  lost: number;
  duplicates: number;
  /** Whether every assertion of the check held. */
  ok: boolean;
  note?: string;
}

export interface ReliabilitySection {
  title: string;
  rows: ReliabilityRow[];
}

/** A reliability module (`reliability/*.check.ts`) default-exports one of these. */
export type ReliabilityCheck = () => Promise<ReliabilitySection>;

export function printReliability(sections: readonly ReliabilitySection[]): string {
  const header = ['section', 'check', 'cases', 'faults injected', 'lost', 'duplicates', 'ok', 'note'];
  const rows = sections.flatMap((s) =>
    s.rows.map((r) => [s.title, r.check, String(r.cases), String(r.faults), String(r.lost), String(r.duplicates), r.ok ? 'yes' : 'NO', r.note ?? '']),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
