import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/cases';
import { laneflow } from '../helpers/cli';
import { fixtures } from './helpers';

const artifacts = 'test/artifacts/testing';

/** A copy of refund.flow and its bindings in a folder of its own, with the given scenarios. */
function refundCopy(name: string, scenarios: string): string {
  const folder = `${artifacts}/${name}`;
  rmSync(`${repoRoot}${folder}`, { recursive: true, force: true });
  mkdirSync(`${repoRoot}${folder}`, { recursive: true });
  copyFileSync(`${repoRoot}${fixtures}/refund.flow`, `${repoRoot}${folder}/refund.flow`);
  // The bindings import the runtime relative to their folder: one level deeper here.
  const bindings = readFileSync(`${repoRoot}${fixtures}/refund.bindings.ts`, 'utf8').replace('../../../src/', '../../../../src/');
  writeFileSync(`${repoRoot}${folder}/refund.bindings.ts`, bindings);
  writeFileSync(`${repoRoot}${folder}/refund.scenarios.yaml`, scenarios);
  return folder;
}

const ONE_PASS_ONE_FAIL = `scenarios:
  - name: small refund
    input: { order: ord_1, amountCents: 2500, ageDays: 3 }
    expect:
      end: Done
  - name: big refund <without> a manager & co
    input: { order: ord_2, amountCents: 50000, ageDays: 3 }
    expect:
      path: [n1, n2, n3, n5, n4, n8]
`;

/** Every element of an XML document, parsed strictly: saxes throws on any well-formedness error. */
function parseXml(text: string): { name: string; attributes: Record<string, string>; text: string; within: string[] }[] {
  const elements: { name: string; attributes: Record<string, string>; text: string; within: string[] }[] = [];
  const open: string[] = [];
  const parser = new SaxesParser();
  parser.on('opentag', (tag) => {
    const attributes = tag.attributes as Record<string, string>;
    elements.push({ name: tag.name, attributes, text: '', within: [...open] });
    open.push(attributes['class'] ?? '');
  });
  parser.on('closetag', () => open.pop());
  parser.on('text', (text) => {
    const last = elements[elements.length - 1];
    if (last !== undefined) last.text += text;
  });
  parser.write(text).close();
  return elements;
}

describe('laneflow test', () => {
  it('prints results, the coverage table and every uncovered edge by position', () => {
    const run = laneflow(['test', `${fixtures}/refund.flow`, '--coverage']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('PASS test/testing/fixtures/refund.flow  2 scenarios');
    expect(run.stdout).toContain('  ✓ a recent small order is refunded to the card');
    expect(run.stdout).toMatch(/test\/testing\/fixtures\/refund\.flow\s+7\/8\s+88%\s+7\/9\s+78%\s+3\/4\s+75%\s+2/);
    expect(run.stdout).toContain('Uncovered edges:\n  test/testing/fixtures/refund.flow:15:3  n5->n6  n5 "Amount over limit?" → n6 "Ask a manager" [Yes]\n  test/testing/fixtures/refund.flow:17:3  n6->n4');
    expect(run.stdout).toContain('Scenarios: 2 passed, 2 total; 1 flow in');
  });

  it('fails below --min-coverage and passes at or above it', () => {
    const below = laneflow(['test', `${fixtures}/refund.flow`, '--min-coverage', '80']);
    expect(below.status).toBe(1);
    expect(below.stdout).toContain('Edge coverage of test/testing/fixtures/refund.flow is 77.8%, below the minimum of 80%');
    const above = laneflow(['test', `${fixtures}/refund.flow`, '--min-coverage', '75%']);
    expect(above.status).toBe(0);
    const bad = laneflow(['test', `${fixtures}/refund.flow`, '--min-coverage', '120']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('laneflow: --min-coverage 120 is not a percentage from 0 to 100\n');
  });

  it('exits 1 and shows the node, the .flow line and the expectation of a failing scenario', () => {
    const folder = refundCopy('failing', ONE_PASS_ONE_FAIL);
    const run = laneflow(['test', folder]);
    expect(run.status).toBe(1);
    // No stack trace: the only `at` lines name a node and its place in the .flow file.
    expect(run.stdout + run.stderr).not.toMatch(/\bat .*\.(js|ts):\d+:\d+\)?$/m);
    expect(run.stdout).toContain(`FAIL ${folder}/refund.flow`);
    expect(run.stdout).toContain('  ✓ small refund');
    expect(run.stdout).toContain(`  ✗ big refund <without> a manager & co`);
    expect(run.stdout).toContain(`expect.path (${folder}/refund.scenarios.yaml:9:7): step 5 of the path went to n6 "Ask a manager" instead of n4 "Refund card" after n5 "Amount over limit?" chose "Yes"`);
    expect(run.stdout).toContain(`at n5 "Amount over limit?" (${folder}/refund.flow:6:3)`);
    expect(run.stdout).toContain('6 |   n5: diamond label:"Amount over limit?"');
    expect(run.stdout).toContain('Scenarios: 1 failed, 1 passed, 2 total');
  });

  it('writes JUnit XML that parses, with a failure per unmet expectation', () => {
    const folder = refundCopy('junit', ONE_PASS_ONE_FAIL);
    const run = laneflow(['test', folder, '--reporter', 'junit', '--min-coverage', '100']);
    expect(run.status).toBe(1);
    const elements = parseXml(run.stdout);
    const root = elements[0]!;
    expect(root.name).toBe('testsuites');
    expect(root.attributes).toMatchObject({ tests: '3', failures: '2', errors: '0', skipped: '0' });
    const suite = elements.find((e) => e.name === 'testsuite')!;
    expect(suite.attributes).toMatchObject({ name: `${folder}/refund.flow`, tests: '3', failures: '2', file: `${folder}/refund.scenarios.yaml` });
    const cases = elements.filter((e) => e.name === 'testcase');
    expect(cases.map((c) => c.attributes['name'])).toEqual(['small refund', 'big refund <without> a manager & co', 'edge coverage at least 100%']);
    expect(cases[1]!.attributes).toMatchObject({ classname: 'refund', file: `${folder}/refund.scenarios.yaml`, line: '6' });
    const failures = elements.filter((e) => e.name === 'failure');
    expect(failures[0]!.attributes['type']).toBe('expect.path');
    expect(failures[0]!.attributes['message']).toContain('step 5 of the path went to n6 "Ask a manager"');
    expect(failures[0]!.text).toContain(`at n5 "Amount over limit?" (${folder}/refund.flow:6:3)`);
    expect(failures[1]!.attributes['type']).toBe('coverage');
    expect(elements.filter((e) => e.name === 'property').map((p) => `${p.attributes['name']}=${p.attributes['value']}`)).toEqual([
      'coverage.nodes=7/8',
      'coverage.edges=7/9',
      'coverage.branches=3/4',
    ]);
  });

  it('annotates failures at the node\'s line and uncovered edges for GitHub Actions', () => {
    const folder = refundCopy('github', ONE_PASS_ONE_FAIL.split('  - name: big')[0]!);
    const passing = laneflow(['test', folder, '--reporter', 'github', '--coverage']);
    expect(passing.status).toBe(0);
    const warnings = passing.stdout.split('\n').filter((line) => line.startsWith('::'));
    expect(warnings).toEqual([
      `::warning file=${folder}/refund.flow,line=14,col=3,title=Uncovered edge n3->n7::No scenario takes n3 "Within 30 days?" → n7 "Offer store credit" [No].`,
      `::warning file=${folder}/refund.flow,line=15,col=3,title=Uncovered edge n5->n6::No scenario takes n5 "Amount over limit?" → n6 "Ask a manager" [Yes].`,
      `::warning file=${folder}/refund.flow,line=17,col=3,title=Uncovered edge n6->n4::No scenario takes n6 "Ask a manager" → n4 "Refund card".`,
      `::warning file=${folder}/refund.flow,line=19,col=3,title=Uncovered edge n7->n8::No scenario takes n7 "Offer store credit" → n8 "Done".`,
    ]);

    const failing = laneflow(['test', refundCopy('github-failing', ONE_PASS_ONE_FAIL), '--reporter', 'github']);
    expect(failing.status).toBe(1);
    const errors = failing.stdout.split('\n').filter((line) => line.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      new RegExp(`^::error file=${artifacts}/github-failing/refund\\.flow,line=6,col=3,title=refund › big refund <without> a manager & co::expect\\.path \\(${artifacts}/github-failing/refund\\.scenarios\\.yaml:9:7\\) at n5 "Amount over limit\\?": step 5 of the path`),
    );
    // Multi-line messages are escaped onto one line.
    expect(errors[0]).toContain('%0A    expected path: n1 → n2');
  });

  it('refuses an output file in a folder that does not exist, creating nothing', () => {
    const run = laneflow(['test', `${fixtures}/refund.flow`, '--reporter', 'junit', '-o', `${artifacts}/no-such-folder/j.xml`]);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`laneflow: there is no folder ${artifacts}/no-such-folder to write ${artifacts}/no-such-folder/j.xml in\n`);
    expect(existsSync(`${repoRoot}${artifacts}/no-such-folder`)).toBe(false);
  });

  it('tests flows/ when run with no argument and there is one, else the current folder', () => {
    const root = mkdtempSync(join(tmpdir(), 'laneflow-test-default-'));
    const flow = 'A { # Lane A\n  n1: circle label:"Start"\n  n2: rectangle label:"Work"\n  n3: circle label:"End"\n\n  n1.handle(right) -> n2.handle(left)\n  n2.handle(right) -> n3.handle(left)\n}\n';
    mkdirSync(join(root, 'flows'));
    writeFileSync(join(root, 'flows/work.flow'), flow);
    writeFileSync(join(root, 'flows/work.scenarios.yaml'), 'scenarios:\n  - name: it works\n    expect: { end: End }\n');
    // A fixture elsewhere in the repository whose scenario fails: the default run must not reach it.
    mkdirSync(join(root, 'fixtures'));
    writeFileSync(join(root, 'fixtures/broken.flow'), flow);
    writeFileSync(join(root, 'fixtures/broken.scenarios.yaml'), 'scenarios:\n  - name: fails\n    expect: { status: failed }\n');
    const run = laneflow(['test'], { cwd: root });
    expect(run.stdout).toContain(' flows/work.flow  1 scenario');
    expect(run.stdout).not.toContain('broken');
    expect(run.stdout).toContain('1 total; 1 flow in');
    const inFixtures = laneflow(['test'], { cwd: join(root, 'fixtures') });
    expect(inFixtures.stdout).toContain(' broken.flow  1 scenario');
    expect(inFixtures.stdout).toContain('1 total; 1 flow in');
  });

  it('points a binding module\'s syntax error at its own line and column, once', () => {
    // Outside the repository: a module that does not compile would break \`tsc -p .\`.
    const folder = mkdtempSync(join(tmpdir(), 'laneflow-bindings-syntax-'));
    copyFileSync(`${repoRoot}${fixtures}/refund.flow`, join(folder, 'refund.flow'));
    writeFileSync(join(folder, 'refund.scenarios.yaml'), 'scenarios:\n  - name: small refund\n    input: { order: ord_1, amountCents: 2500, ageDays: 3 }\n');
    writeFileSync(join(folder, 'refund.bindings.ts'), 'export default {\n  nodes: {\n    n2: (ctx) => {,\n  },\n};\n');
    const run = laneflow(['test', folder]);
    expect(run.status).toBe(1);
    const problems = run.stdout.split('\n').filter((line) => line.startsWith('  ✗'));
    // esbuild counts columns from 0; the comma is the 19th character of line 3.
    expect(problems).toEqual([`  ✗ ${folder}/refund.bindings.ts:3:19: the binding module does not compile: Unexpected ","`]);
    expect(run.stdout).not.toContain('refund.bindings.ts:1:1');
  });

  it('fails, once and at its line, a scenario whose expectation cannot be read', () => {
    const folder = refundCopy('bad-elapsed', 'scenarios:\n  - name: small refund\n    input: { order: ord_1, amountCents: 2500, ageDays: 3 }\n    expect:\n      elapsed: 8d 90s\n');
    const run = laneflow(['test', folder]);
    expect(run.status).toBe(1);
    expect(run.stdout).not.toContain('✓');
    expect(run.stdout).toContain('  ✗ small refund');
    const message = '`elapsed: 8d 90s` is not a duration: a duration is one number and one unit (ms, s, m, h, d or w); write 691290s';
    expect(run.stdout).toContain(`      scenario-file (${folder}/refund.scenarios.yaml:5:16): ${message}`);
    expect(run.stdout.split(message).length - 1).toBe(1);
    expect(run.stdout).toContain('Scenarios: 1 failed, 0 passed, 1 total');
  });

  it('reports scenario file mistakes with their line and exits 1', () => {
    const folder = refundCopy('mistakes', 'scenarios:\n  - name: typo\n    outcomes:\n      Ask a manger: run\n');
    const run = laneflow(['test', folder]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('  ✗ typo');
    expect(run.stdout).toContain(`      scenario-file (${folder}/refund.scenarios.yaml:4:7): ${folder}/refund.flow has no node "Ask a manger" (did you mean \`Ask a manager\`?)`);
  });

  it('appends skeleton scenarios for the paths that take uncovered edges', () => {
    const folder = refundCopy('scaffold', `# kept\n${ONE_PASS_ONE_FAIL.split('  - name: big')[0]!}`);
    const run = laneflow(['test', folder, '--scaffold']);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`${folder}/refund.scenarios.yaml: 2 skeleton scenarios written for paths 1, 3`);
    const text = readFileSync(`${repoRoot}${folder}/refund.scenarios.yaml`, 'utf8');
    expect(text.startsWith('# kept\nscenarios:\n  - name: small refund')).toBe(true);
    expect(text).toContain('  - name: "TODO path 1: Within 30 days? Yes, Amount over limit? Yes"');
    expect(text).toContain('      n3: [ Yes ]\n      n5: [ Yes ]');
    expect(text).toContain('      path: [ n1, n2, n3, n5, n6, n4, n8 ]');
    expect(text).toContain('  - name: "TODO path 3: Within 30 days? No"');
    // The skeletons are scenarios like any other: scripted decisions, an empty input to fill in.
    const again = laneflow(['test', folder, '--coverage']);
    expect(again.stdout).toContain('✗ TODO path 1');
    expect(again.stdout).toContain('failed at n2 "Look up order" with Error: no order number');
  });
});

describe('laneflow test --scaffold', () => {
  it('keeps the scenario file byte for byte, and its skeletons send the signals their path waits for, so they pass on first run', () => {
    const folder = `${artifacts}/scaffold-signals`;
    rmSync(`${repoRoot}${folder}`, { recursive: true, force: true });
    mkdirSync(`${repoRoot}${folder}`, { recursive: true });
    copyFileSync(`${repoRoot}${fixtures}/approval.flow`, `${repoRoot}${folder}/approval.flow`);
    writeFileSync(`${repoRoot}${folder}/approval.bindings.ts`, readFileSync(`${repoRoot}${fixtures}/approval.bindings.ts`, 'utf8').replace('../../../src/', '../../../../src/'));
    const written = [
      '# Expense approvals',
      'scenarios:',
      '    - name:   approved and paid      # odd spacing, kept',
      '      signals: [{name: approval, after: 1h, payload: {approved: true}}]',
      '      expect:',
      '        path: [n1, n2, n3, n4, n5]',
      '        end:    Paid',
      '',
    ].join('\n');
    writeFileSync(`${repoRoot}${folder}/approval.scenarios.yaml`, written);
    const run = laneflow(['test', folder, '--scaffold']);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`${folder}/approval.scenarios.yaml: 1 skeleton scenario written for path 2`);
    const text = readFileSync(`${repoRoot}${folder}/approval.scenarios.yaml`, 'utf8');
    expect(text.startsWith(written)).toBe(true);
    expect(text.slice(written.length)).toBe(
      [
        '    # Skeleton for path 2, ending at n6 "Rejected": give the input that takes it, replace scripted decisions with real data where you can, and add the data and effects to expect.',
        '    - name: "TODO path 2: Approved? No"',
        '      input: {}',
        '      outcomes:',
        '        n3: [ No ]',
        '      signals:',
        '        - { name: approval, after: 0s }',
        '      expect:',
        '        path: [ n1, n2, n3, n6 ]',
        '        end: n6',
        '',
      ].join('\n'),
    );
    const again = laneflow(['test', folder, '--coverage']);
    expect(again.stdout).toContain('  ✓ TODO path 2: Approved? No');
    expect(again.stdout).toContain('Scenarios: 2 passed, 2 total');
    expect(again.status).toBe(0);
  });

  it('turns an empty `scenarios: []` into a list of skeletons, keeping the rest of the file', () => {
    const folder = `${artifacts}/scaffold-empty`;
    rmSync(`${repoRoot}${folder}`, { recursive: true, force: true });
    mkdirSync(`${repoRoot}${folder}`, { recursive: true });
    copyFileSync(`${repoRoot}${fixtures}/approval.flow`, `${repoRoot}${folder}/approval.flow`);
    writeFileSync(`${repoRoot}${folder}/approval.bindings.ts`, readFileSync(`${repoRoot}${fixtures}/approval.bindings.ts`, 'utf8').replace('../../../src/', '../../../../src/'));
    writeFileSync(`${repoRoot}${folder}/approval.scenarios.yaml`, '# mine\nscenarios: [] # none yet\nx-shared: 1\n');
    expect(laneflow(['test', folder, '--scaffold']).status).toBe(0);
    const text = readFileSync(`${repoRoot}${folder}/approval.scenarios.yaml`, 'utf8');
    expect(text.startsWith('# mine\nscenarios:\n  # Skeleton for path 1')).toBe(true);
    expect(text.endsWith('      end: n6\n# none yet\nx-shared: 1\n')).toBe(true);
    const again = laneflow(['test', folder]);
    expect(again.stdout).toContain('Scenarios: 2 passed, 2 total');
  }, 60_000);
});

describe('laneflow paths', () => {
  it('lists every path with loops bounded', () => {
    const run = laneflow(['paths', `${fixtures}/retry-loop.flow`]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      [
        `${fixtures}/retry-loop.flow: 4 paths from n1 "Start"`,
        'loops: loop1 "up to 3 times" at most 3 iterations',
        '',
        ' 1   n1 → n2 → n3 [Yes] → n5',
        '     ends at n5 "Done"',
        ' 2   n1 → n2 → n3 [No] → n4 → n2 → n3 [Yes] → n5',
        '     ends at n5 "Done"',
        ' 3   n1 → n2 → n3 [No] → n4 → n2 → n3 [No] → n4 → n2 → n3 [Yes] → n5',
        '     ends at n5 "Done"',
        ' 4   n1 → n2 → n3 [No] → n4 → n2 → n3 [No] → n4 → n2 → n3 [No] → n4 → n2',
        '     fails: loop1 runs out when the token enters n2 "Try" again',
        '',
        `no scenario file: write ${fixtures}/retry-loop.scenarios.yaml (\`laneflow test --scaffold ${fixtures}/retry-loop.flow\` starts one)`,
        '',
      ].join('\n'),
    );
  });

  it('lists the routes through the catch routes of the binding module beside the flow', () => {
    const run = laneflow(['paths', `${fixtures}/charge.flow`]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`${fixtures}/charge.flow: 3 paths from n1 "Invoice due"`);
    expect(run.stdout).toContain(' 1   n1 → n2 → n3\n     ends at n3 "Paid"');
    expect(run.stdout).toContain(' 2   n1 → n2 [catch GatewayTimeout, CardDeclined] → n4 → n5\n     ends at n5 "Not paid"');
    expect(run.stdout).toContain(' 3   n1 → n2 [catch] → n5\n     ends at n5 "Not paid"');
    const json = JSON.parse(laneflow(['paths', `${fixtures}/charge.flow`, '--json']).stdout) as { paths: { edges: string[]; catches: unknown[] }[] };
    expect(json.paths[1]).toMatchObject({ edges: ['n1->n2', 'n2-catch->n4', 'n4->n5'], catches: [{ node: 'n2', to: 'n4', errors: ['GatewayTimeout', 'CardDeclined'] }] });
  });

  it('marks the paths the scenarios take', () => {
    const run = laneflow(['paths', `${fixtures}/refund.flow`]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(' 2 ✓ n1 → n2 → n3 [Yes] → n5 [No] → n4 → n8');
    expect(run.stdout).toContain(' 1 · n1 → n2 → n3 [Yes] → n5 [Yes] → n6 → n4 → n8');
    expect(run.stdout).toContain(`2 of 3 paths taken by the scenarios in ${fixtures}/refund.scenarios.yaml (✓)`);
  });
});

describe('laneflow render --coverage / --trace', () => {
  it('draws covered edges green, uncovered ones red and dashed, and dims nodes never visited', () => {
    const run = laneflow(['render', `${fixtures}/refund.flow`, '--coverage', '-o', '-']);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe(`${fixtures}/refund.flow: edge coverage 7/9 (78%) from 2 scenarios\n`);
    const elements = parseXml(run.stdout);
    const edge = (id: string) => elements.find((e) => e.name === 'path' && e.attributes['data-edge-id'] === id)!.attributes;
    expect(edge('n5->n6')).toMatchObject({ 'data-highlight': 'missed', stroke: '#dc2626', 'stroke-dasharray': '7 5' });
    expect(edge('n6->n4')['data-highlight']).toBe('missed');
    expect(edge('n5->n4')).toMatchObject({ 'data-highlight': 'taken', stroke: '#16a34a' });
    expect(elements.filter((e) => e.attributes['data-highlight'] === 'taken')).toHaveLength(7);
    // The one node no scenario visits sits in the dimmed group.
    const dimmed = elements.filter((e) => e.attributes['data-node-id'] !== undefined && e.within.includes('dimmed'));
    expect(dimmed.map((e) => e.attributes['data-node-id'])).toEqual(['n6']);
  });

  it('draws the path one instance took', () => {
    const db = `${repoRoot}${artifacts}/trace.db`;
    for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true });
    mkdirSync(`${repoRoot}${artifacts}`, { recursive: true });
    const started = laneflow(['run', `${fixtures}/refund.flow`, '--db', db, '--input', '{"order": "ord_7", "amountCents": 500, "ageDays": 60}']);
    expect(started.status).toBe(0);
    const id = /^(\w+): completed at n\d+ "[^"]+"$/m.exec(started.stdout)![1]!;
    const run = laneflow(['render', `${fixtures}/refund.flow`, '--trace', id, '--db', db, '-o', '-']);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe(`${fixtures}/refund.flow: instance ${id} (completed) took 4 of 9 edges\n`);
    const taken = parseXml(run.stdout).filter((e) => e.name === 'path' && e.attributes['data-highlight'] === 'taken').map((e) => e.attributes['data-edge-id']);
    expect(taken).toEqual(['n1->n2', 'n2->n3', 'n3->n7', 'n7->n8']);
    const missing = laneflow(['render', `${fixtures}/refund.flow`, '--trace', 'nope', '--db', db, '-o', '-']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`laneflow: no instance nope in ${db}\n`);
  });
});
