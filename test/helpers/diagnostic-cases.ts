import type { DiagnosticCode } from '../../src/index';

/** The codes a .flow file alone can produce; FZ4xx (binding) codes are tested with the bindings. */
export type FlowDiagnosticCode = Exclude<DiagnosticCode, `FZ4${string}`>;

/** A valid two-lane flow that each case below breaks in one way. */
export const lane = (body: string, label = 'Main') => `Main { # ${label}\n${body}\n}\n`;
export const startEnd = '  n1: circle label:"Start"\n  n2: circle label:"End"\n';

export interface DiagnosticCase {
  source: string;
  /** Where the diagnostic must point: line and column, 1-based. */
  at: [number, number];
  /** Words the message must contain. */
  says: string;
}

export const diagnosticCases: Record<FlowDiagnosticCode, DiagnosticCase> = {
  FZ100: { source: lane(startEnd + '  n1 -> n2 $'), at: [4, 12], says: 'unexpected character `$`' },
  FZ101: { source: lane(startEnd + '  n1.handle(right) -> n2.handle(left'), at: [4, 37], says: 'expected `)`' },
  FZ102: { source: lane('  n1: circle label:"Start\n  n2: circle label:"End"\n  n1 -> n2'), at: [2, 20], says: 'unterminated string' },
  FZ103: { source: `Main {\n${startEnd}  n1 -> n2\n`, at: [1, 1], says: 'lane `Main` is never closed' },
  FZ104: { source: lane(startEnd + '  n1 -> n2') + '}\n', at: [6, 1], says: 'no lane is open' },
  FZ105: { source: lane(startEnd + '  n1 -> n2') + 'n3: rectangle label:"Lost"\n', at: [6, 1], says: 'outside any lane' },
  FZ106: { source: lane(startEnd + '  n1 -> n2\n  loop [forever n1 n2'), at: [5, 8], says: 'loop condition is not closed' },
  FZ107: { source: '{\n'.repeat(1200), at: [1000, 1], says: 'too many errors: stopped checking after 1000, at line 1000' },
  FZ201: { source: lane('  n1: circle label:"Start"\n  n2: rect label:"Do"\n  n3: circle label:"End"\n  n1 -> n2\n  n2 -> n3'), at: [3, 7], says: 'unknown shape `rect`: expected one of circle, rectangle, diamond, taskbox (did you mean `rectangle`?)' },
  FZ202: { source: lane(startEnd + '  n1.handle(rigth) -> n2.handle(left)'), at: [4, 13], says: 'did you mean `right`?' },
  FZ203: { source: lane(startEnd + '  n1: rectangle label:"Again"\n  n1 -> n2'), at: [4, 3], says: 'duplicate node id `n1`: already declared in lane `Main` on line 2' },
  FZ204: { source: lane(startEnd + '  n1 -> n2') + 'Main {\n}\n', at: [6, 1], says: 'duplicate lane `Main`: already declared on line 1' },
  FZ205: { source: lane(startEnd + '  n1 -> n2\n  n2 -> n7'), at: [5, 9], says: 'node `n7` is not declared' },
  FZ206: { source: lane(startEnd + '  n1 -> Mian.n2'), at: [4, 9], says: 'no lane named `Mian` (did you mean `Main`?)' },
  FZ207: {
    source: `A {\n  n1: circle label:"Start"\n}\nB {\n  n2: circle label:"End"\n}\nA.n1.handle(bottom) -> A.n2.handle(top)\n`,
    at: [7, 24],
    says: '`n2` is declared in lane `B`, not `A`',
  },
  FZ208: { source: lane(startEnd + '  n1 -> n2\n  loop [once] n1'), at: [5, 3], says: 'at least two nodes, this one has 1' },
  FZ209: { source: lane(startEnd + '  n3: circle label:"Other"\n  n1 -> n2\n  n3 -> n2\n  loop [a] n1 n2\n  loop [b] n3 n2'), at: [8, 15], says: '`n2` is already in the loop on line 7' },
  FZ210: { source: lane('  n1: circle label:"Loop A"\n  n2: rectangle label:"Loop B"\n  n1 -> n2\n  n2 -> n1'), at: [2, 3], says: 'no start node' },
  FZ301: { source: lane('  n1: circle label:"Start"\n  n2: diamond label:"Ok?"\n  n3: circle label:"End"\n  n1 -> n2\n  n2 -> n3 [label="Yes"]'), at: [3, 3], says: 'has 1 outgoing edge' },
  FZ302: { source: lane('  n1: circle label:"Start"\n  n2: diamond label:"Ok?"\n  n3: circle label:"End"\n  n1 -> n2\n  n2 -> n3 [label="Yes"]\n  n2.handle(bottom) -> n3.handle(bottom)'), at: [7, 3], says: 'has no label' },
  FZ303: { source: lane('  n1: circle label:"Start"\n  n2: diamond label:"Ok?"\n  n3: circle label:"End"\n  n1 -> n2\n  n2 -> n3 [label="Yes"]\n  n2.handle(bottom) -> n3.handle(bottom) [label=" yes "]'), at: [7, 3], says: 'already has an edge labelled "yes" on line 6' },
  FZ304: { source: lane(startEnd + '  n3: rectangle label:"Orphan"\n  n1 -> n2\n  n3 -> n2'), at: [4, 3], says: '`n3` "Orphan" is unreachable' },
  FZ305: { source: lane('  n1: circle label:"Start"\n  n2: rectangle label:"Stuck"\n  n1 -> n2'), at: [3, 3], says: '`n2` "Stuck" has no outgoing edge' },
  FZ306: { source: lane('  n1: circle label:"Start"\n  n2: circle label:"' + 'x'.repeat(51) + '"\n  n1 -> n2'), at: [3, 20], says: '51 characters' },
  FZ307: { source: lane('  n1: circle label:"Start" lable:"x"\n  n2: circle label:"End"\n  n1 -> n2'), at: [2, 28], says: 'unknown attribute `lable` on node `n1`: known are label, owner, description, system (did you mean `label`?)' },
  FZ308: { source: `A {\n  n1: circle label:"Start"\n  n1.handle(bottom) -> n2.handle(top)\n}\nB {\n  n2: circle label:"End"\n}\n`, at: [3, 24], says: 'write `B.n2`' },
  FZ309: { source: lane(startEnd + '  n1 -> n2'), at: [4, 3], says: 'sides inferred as n1.handle(right) -> n2.handle(left)' },
  FZ310: { source: lane('  n1: circle label:"Start"\n  n3: circle label:"End"\n  n1 -> n3'), at: [3, 3], says: 'expected `n2` here' },
  FZ311: { source: lane('  n1: circle label:"Start" label:"Begin"\n  n2: circle label:"End"\n  n1 -> n2'), at: [2, 28], says: 'attribute `label` is given twice' },
  FZ312: { source: lane(startEnd + '  n1 -> n2\n  loop [twice] n1 n2 n1'), at: [5, 22], says: '`n1` is listed twice' },
  FZ313: { source: '# Ops, from a FlowZap template\n' + lane(startEnd + '  n1.handle(right) -> n2.handle(left)'), at: [1, 1], says: '`#` outside a lane is read as a comment' },
};

