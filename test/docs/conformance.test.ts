import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repositoryPath } from '../helpers/env.js';

// docs/conformance.md lists every requirement of gemSpec_CM_KOMLE and gemSMIME_KOMLE with its
// state. This test holds the file to the specification texts and to the tests it names, so a
// row cannot claim more than a test checks and no requirement can go missing.

const STATES = ['implemented', 'partly', 'not yet', 'not applicable'] as const;
type State = (typeof STATES)[number];
const HEADER = ['ID', 'Requirement (short title as in the heading)', 'Section', 'State', 'Test', 'Note'];
const ID = '(?:KOM-LE-)?A_\\d+(?:-\\d+)?';
const ID_ONLY = new RegExp(`^${ID}$`);
/** gemSpec_CM_KOMLE: `KOM-LE-A_2046 - Aufbau der …` or `A_23165 - Verhalten …` at the start of a line. */
const CM_HEADING = new RegExp(`^(${ID}) - (.+)$`, 'gm');
/** gemSMIME_KOMLE: `**KOM-LE-A_2095 - Reihenfolge …**` (the title may wrap onto the next line). */
const SMIME_HEADING = new RegExp(`^\\*\\*(${ID}) - `, 'gm');

const TABLES = { cm: 'gemSpec_CM_KOMLE', smime: 'gemSMIME_KOMLE' } as const;
type TableName = keyof typeof TABLES;

const DOC = repositoryPath('docs', 'conformance.md');
const SPECS = repositoryPath('..', 'shared', 'specs', 'kim');
const CM_SPEC = join(SPECS, 'gemSpec_CM_KOMLE_V1.16.0.txt');
const SMIME_SPEC = join(SPECS, 'gemSMIME_KOMLE_V1.7.0.md');

interface Row {
  table: TableName;
  line: number;
  id: string;
  title: string;
  section: string;
  state: string;
  tests: string[];
  /** What the Test cell holds besides the backticked paths (only "—" or separators are allowed). */
  testsRest: string;
  note: string;
}

function cells(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner.split(/(?<!\\)\|/).map((c) => c.trim());
}

/** The rows of the tables that follow a `## ` heading naming gemSpec_CM_KOMLE or gemSMIME_KOMLE. */
function parseDoc(text: string): { rows: Row[]; headers: Partial<Record<TableName, string[]>> } {
  const rows: Row[] = [];
  const headers: Partial<Record<TableName, string[]>> = {};
  let table: TableName | undefined;
  let inHeader = false;
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.startsWith('## ')) {
      table = (Object.keys(TABLES) as TableName[]).find((k) => line.includes(TABLES[k]));
      inHeader = true;
      return;
    }
    if (!table || !line.trim().startsWith('|')) return;
    const c = cells(line);
    if (inHeader) {
      headers[table] = c;
      inHeader = false;
      return;
    }
    if (c.every((x) => /^:?-+:?$/.test(x))) return;
    const [id = '', title = '', section = '', state = '', testCell = '', note = '', ...extra] = c;
    const tests = [...testCell.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);
    const testsRest = testCell.replace(/`[^`]*`/g, '').replace(/[,\s—-]/g, '');
    rows.push({ table, line: i + 1, id, title, section, state, tests, testsRest: testsRest + extra.join('|'), note });
  });
  return { rows, headers };
}

function specIds(file: string, heading: RegExp): string[] {
  const text = readFileSync(file, 'utf8').replace(/\r\n/g, '\n');
  return [...text.matchAll(heading)].map((m) => m[1]!);
}

/** Whether `text` contains `id` as a whole ID (KOM-LE-A_2046 is not A_2046, A_2114 is not A_2114-01). */
function mentions(text: string, id: string): boolean {
  return new RegExp(`(?<![\\w-])${id.replace(/[-]/g, '\\-')}(?![\\w-])`).test(text);
}

const where = (r: Row): string => `docs/conformance.md:${r.line} (${r.id})`;

describe('requirement matrix: the rows of docs/conformance.md', () => {
  const { rows, headers } = parseDoc(readFileSync(DOC, 'utf8'));

  test('there is one table per specification, with the six columns', () => {
    for (const name of Object.keys(TABLES) as TableName[]) {
      assert.deepEqual(headers[name], HEADER, `the ${TABLES[name]} table's header`);
      assert.ok(rows.some((r) => r.table === name), `the ${TABLES[name]} table has rows`);
    }
  });

  test('every row names one requirement ID, a title and a section, and has six cells', () => {
    for (const r of rows) {
      assert.match(r.id, ID_ONLY, `${where(r)}: not a requirement ID`);
      assert.ok(r.title.length > 0, `${where(r)}: no title`);
      assert.ok(r.section.length > 0, `${where(r)}: no section`);
      assert.equal(r.testsRest, '', `${where(r)}: the Test cell holds more than backticked file names (or the row has more than six cells)`);
    }
  });

  test('no requirement has two rows', () => {
    const seen = new Map<string, Row>();
    for (const r of rows) {
      const before = seen.get(r.id);
      assert.equal(before, undefined, `${where(r)}: ${r.id} already has a row at line ${before?.line}`);
      seen.set(r.id, r);
    }
  });

  test('every state is implemented, partly, not yet or not applicable', () => {
    for (const r of rows) assert.ok((STATES as readonly string[]).includes(r.state), `${where(r)}: state "${r.state}" is not one of ${STATES.join(', ')}`);
  });

  test('implemented and partly rows name test files that exist and contain the requirement ID', () => {
    const texts = new Map<string, string>();
    for (const r of rows.filter((x) => x.state === ('implemented' satisfies State) || x.state === ('partly' satisfies State))) {
      assert.ok(r.tests.length > 0, `${where(r)}: ${r.state} but no test file named`);
      for (const t of r.tests) {
        assert.match(t, /^test\/[\w./-]+\.test\.ts$/, `${where(r)}: "${t}" is not a test file under test/`);
        const file = repositoryPath(t);
        assert.ok(existsSync(file), `${where(r)}: ${t} does not exist`);
        if (!texts.has(t)) texts.set(t, readFileSync(file, 'utf8'));
        assert.ok(mentions(texts.get(t)!, r.id), `${where(r)}: ${t} does not mention ${r.id}, so it cannot be the test that checks it`);
      }
    }
  });

  test('not yet and not applicable rows say why in their Note', () => {
    for (const r of rows.filter((x) => x.state === ('not yet' satisfies State) || x.state === ('not applicable' satisfies State))) {
      assert.ok(r.note.length > 0, `${where(r)}: ${r.state} needs a Note`);
    }
  });
});

describe('requirement matrix: against the specification texts', () => {
  const { rows } = parseDoc(readFileSync(DOC, 'utf8'));
  const present = existsSync(CM_SPEC) && existsSync(SMIME_SPEC);
  const skipped = `the specification texts are not beside the repository: looked for ${CM_SPEC} and ${SMIME_SPEC}`;
  const ids = present ? { cm: specIds(CM_SPEC, CM_HEADING), smime: specIds(SMIME_SPEC, SMIME_HEADING) } : undefined;

  test('the texts yield their requirement headings (at least 150 and 30)', (t) => {
    if (!ids) return void t.skip(skipped);
    assert.ok(ids.cm.length >= 150, `only ${ids.cm.length} requirements found in ${CM_SPEC}: is the heading pattern broken?`);
    assert.ok(ids.smime.length >= 30, `only ${ids.smime.length} requirements found in ${SMIME_SPEC}: is the heading pattern broken?`);
    for (const list of [ids.cm, ids.smime]) assert.equal(new Set(list).size, list.length, 'a requirement heading occurs twice in a text');
  });

  for (const name of Object.keys(TABLES) as TableName[]) {
    test(`every requirement of ${TABLES[name]} has exactly one row in its table, in the order of the text`, (t) => {
      if (!ids) return void t.skip(skipped);
      const spec = ids[name];
      const listed = rows.filter((r) => r.table === name).map((r) => r.id);
      const missing = spec.filter((id) => !listed.includes(id));
      assert.deepEqual(missing, [], `requirements of ${TABLES[name]} without a row`);
      const twice = listed.filter((id, i) => listed.indexOf(id) !== i);
      assert.deepEqual(twice, [], `requirements of ${TABLES[name]} with more than one row`);
      const foreign = listed.filter((id) => !spec.includes(id));
      assert.deepEqual(foreign, [], `rows in the ${TABLES[name]} table for IDs that text does not have`);
      assert.deepEqual(listed, spec, `the ${TABLES[name]} rows are not in the order of the text`);
    });
  }

  test('no row names an ID that is in neither text', (t) => {
    if (!ids) return void t.skip(skipped);
    const all = new Set([...ids.cm, ...ids.smime]);
    for (const r of rows) assert.ok(all.has(r.id), `${where(r)}: ${r.id} is in neither ${TABLES.cm} nor ${TABLES.smime}`);
  });
});
