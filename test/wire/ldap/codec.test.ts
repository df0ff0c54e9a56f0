import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  LDAP_OID,
  LdapDecodeError,
  LdapFilterSyntaxError,
  OP,
  decodeLdapMessage,
  decodeLdapResponse,
  decodePagedResults,
  encodeMessage,
  encodeMessages,
  encodePagedResults,
  encodeRequest,
  extendedResponse,
  formatFilter,
  noticeOfDisconnection,
  parseFilter,
  resultMessage,
  searchResultDone,
  searchResultEntry,
  bindResponse,
  type LdapFilter,
  type LdapRequest,
} from '../../../src/wire/ldap/index.js';
import { deepSearch } from '../../helpers/ldap-fixture.js';
import { prng } from '../../helpers/prng.js';

const OPTS = { maxFilterDepth: 32 };
const b = (s: string): Buffer => Buffer.from(s, 'utf8');

const REQUESTS: LdapRequest[] = [
  { messageId: 1, controls: [], op: { type: 'bind', version: 3, name: 'mail=a@b,dc=data,dc=vzd', auth: { method: 'simple', password: b('sëcret') } } },
  { messageId: 2, controls: [], op: { type: 'bind', version: 3, name: '', auth: { method: 'sasl', mechanism: 'EXTERNAL' } } },
  { messageId: 3, controls: [], op: { type: 'bind', version: 3, name: '', auth: { method: 'sasl', mechanism: 'PLAIN', credentials: b('\0u\0p') } } },
  { messageId: 4, controls: [], op: { type: 'unbind' } },
  {
    messageId: 5,
    controls: [encodePagedResults({ size: 10, cookie: b('abc') }, true)],
    op: {
      type: 'search',
      baseObject: 'dc=data,dc=vzd',
      scope: 'sub',
      derefAliases: 3,
      sizeLimit: 100,
      timeLimit: 30,
      typesOnly: false,
      filter: parseFilter('(&(mail=praxis@anbieter.kim.telematik)(|(cn=Dr*)(!(entryType=5))))'),
      attributes: ['userCertificate;binary', 'cn'],
    },
  },
  { messageId: 6, controls: [], op: { type: 'modify', object: 'uid=1,dc=data,dc=vzd', changes: [{ operation: 'replace', modification: { type: 'mail', values: [b('x@y')] } }] } },
  { messageId: 7, controls: [], op: { type: 'add', entry: 'uid=2,dc=data,dc=vzd', attributes: [{ type: 'cn', values: [b('A'), b('B')] }] } },
  { messageId: 8, controls: [], op: { type: 'delete', entry: 'uid=3,dc=data,dc=vzd' } },
  { messageId: 9, controls: [], op: { type: 'modifyDn', entry: 'uid=3,dc=data,dc=vzd', newRdn: 'uid=4', deleteOldRdn: true, newSuperior: 'dc=x' } },
  { messageId: 10, controls: [], op: { type: 'modifyDn', entry: 'uid=3,dc=data,dc=vzd', newRdn: 'uid=4', deleteOldRdn: false } },
  { messageId: 11, controls: [], op: { type: 'compare', entry: 'uid=3,dc=data,dc=vzd', attribute: 'mail', value: b('x@y') } },
  { messageId: 12, controls: [], op: { type: 'abandon', messageId: 5 } },
  { messageId: 13, controls: [], op: { type: 'extended', name: LDAP_OID.startTls } },
  { messageId: 2147483647, controls: [{ type: '1.2.3', critical: false }], op: { type: 'extended', name: LDAP_OID.whoAmI, value: b('') } },
];

test('every request type survives encode → decode', () => {
  for (const req of REQUESTS) {
    const decoded = decodeLdapMessage(encodeRequest(req), OPTS);
    assert.deepEqual(JSON.parse(JSON.stringify(decoded)), JSON.parse(JSON.stringify(req)), req.op.type);
  }
});

test('responses decode as a client reads them', () => {
  const entry = decodeLdapResponse(encodeMessage(searchResultEntry(7, 'uid=1,dc=data,dc=vzd', [{ type: 'userCertificate;binary', values: [Buffer.from([0x30, 0x82, 0, 1, 0xff])] }])));
  assert.deepEqual(entry, { messageId: 7, type: 'entry', dn: 'uid=1,dc=data,dc=vzd', attributes: [{ type: 'userCertificate;binary', values: [Buffer.from([0x30, 0x82, 0, 1, 0xff])] }], controls: [] });
  const done = decodeLdapResponse(encodeMessage(searchResultDone(7, { resultCode: 4, diagnosticMessage: 'size' }, [encodePagedResults({ size: 0, cookie: b('c') })])));
  assert.equal(done.type, 'result');
  if (done.type !== 'result') return;
  assert.equal(done.op, OP.searchResultDone);
  assert.equal(done.resultCode, 4);
  assert.deepEqual(decodePagedResults(done.controls[0]!), { size: 0, cookie: b('c') });
  const notice = decodeLdapResponse(encodeMessage(noticeOfDisconnection(2, 'bye')));
  assert.equal(notice.messageId, 0);
  assert.equal(notice.type === 'result' && notice.responseName, LDAP_OID.noticeOfDisconnection);
  const starttls = decodeLdapResponse(encodeMessage(extendedResponse(3, { resultCode: 0, responseName: LDAP_OID.startTls, responseValue: b('v') })));
  assert.equal(starttls.type === 'result' && starttls.responseValue?.toString(), 'v');
  for (const op of [OP.modifyResponse, OP.addResponse, OP.delResponse, OP.modDNResponse, OP.compareResponse]) {
    const r = decodeLdapResponse(encodeMessage(resultMessage(9, op, { resultCode: 53, diagnosticMessage: 'read-only', matchedDn: 'dc=x' })));
    assert.equal(r.type === 'result' && `${r.op}/${r.resultCode}/${r.matchedDn}`, `${op}/53/dc=x`);
  }
  const batch = encodeMessages([bindResponse(1, { resultCode: 0 }), searchResultDone(2, { resultCode: 0 })]);
  assert.equal(batch.length, encodeMessage(bindResponse(1, { resultCode: 0 })).length + encodeMessage(searchResultDone(2, { resultCode: 0 })).length);
});

test('filter string form: a table of cases (RFC 4515 escapes, UTF-8, substrings, extensible)', () => {
  const cases: Array<[string, LdapFilter, string?]> = [
    ['(mail=a@b)', { type: 'equality', attribute: 'mail', value: b('a@b') }],
    ['(cn=*)', { type: 'present', attribute: 'cn' }],
    ['(cn=Dr*)', { type: 'substrings', attribute: 'cn', initial: b('Dr'), any: [] }],
    ['(cn=*x*)', { type: 'substrings', attribute: 'cn', any: [b('x')] }],
    ['(cn=a*b*c*d)', { type: 'substrings', attribute: 'cn', initial: b('a'), any: [b('b'), b('c')], final: b('d') }],
    ['(cn=*end)', { type: 'substrings', attribute: 'cn', any: [], final: b('end') }],
    ['(cn=\\2a\\28\\29\\5c\\00)', { type: 'equality', attribute: 'cn', value: Buffer.from('*()\\\0', 'latin1') }],
    ['(cn=M\\c3\\bcller)', { type: 'equality', attribute: 'cn', value: b('Müller') }, '(cn=Müller)'],
    ['(l=München)', { type: 'equality', attribute: 'l', value: b('München') }],
    ['(entryType>=3)', { type: 'greaterOrEqual', attribute: 'entryType', value: b('3') }],
    ['(entryType<=3)', { type: 'lessOrEqual', attribute: 'entryType', value: b('3') }],
    ['(sn~=Meier)', { type: 'approxMatch', attribute: 'sn', value: b('Meier') }],
    ['(cn:caseExactMatch:=Fred)', { type: 'extensibleMatch', attribute: 'cn', matchingRule: 'caseExactMatch', value: b('Fred'), dnAttributes: false }],
    ['(o:dn:=Acme)', { type: 'extensibleMatch', attribute: 'o', value: b('Acme'), dnAttributes: true }],
    ['(:1.2.3:=x)', { type: 'extensibleMatch', matchingRule: '1.2.3', value: b('x'), dnAttributes: false }],
    ['(&)', { type: 'and', filters: [] }],
    ['(|(a=1)(b=2))', { type: 'or', filters: [{ type: 'equality', attribute: 'a', value: b('1') }, { type: 'equality', attribute: 'b', value: b('2') }] }],
    ['(!(a=1))', { type: 'not', filter: { type: 'equality', attribute: 'a', value: b('1') } }],
    ['(userCertificate;binary=\\30\\82)', { type: 'equality', attribute: 'userCertificate;binary', value: Buffer.from([0x30, 0x82]) }, '(userCertificate;binary=0\\82)'],
    ['(cn=)', { type: 'equality', attribute: 'cn', value: b('') }],
  ];
  for (const [text, ast, formatted] of cases) {
    assert.deepEqual(parseFilter(text), ast, text);
    assert.equal(formatFilter(ast), formatted ?? text, text);
    // And through BER: the same filter arrives at the server.
    const req: LdapRequest = { messageId: 1, controls: [], op: { type: 'search', baseObject: '', scope: 'base', derefAliases: 0, sizeLimit: 0, timeLimit: 0, typesOnly: false, filter: ast, attributes: [] } };
    const op = decodeLdapMessage(encodeRequest(req), OPTS).op;
    assert.deepEqual(op.type === 'search' && op.filter, ast, text);
  }
  assert.deepEqual(parseFilter('mail=x'), { type: 'equality', attribute: 'mail', value: b('x') });
  for (const bad of ['(', '(cn=a', '(cn=a))', '(cn=\\2)', '(cn=\\zz)', '(=a)', '(cn=a(b)', '(cn>=a*)', '(cn=a**b)', '(!(a=1)(b=2))', '(:=x)']) {
    assert.throws(() => parseFilter(bad), LdapFilterSyntaxError, bad);
  }
});

function nested(depth: number): LdapFilter {
  let f: LdapFilter = { type: 'present', attribute: 'cn' };
  for (let i = 1; i < depth; i++) f = i % 2 ? { type: 'not', filter: f } : { type: 'and', filters: [f] };
  return f;
}

const searchWith = (filter: LdapFilter): Buffer =>
  encodeRequest({ messageId: 42, controls: [], op: { type: 'search', baseObject: '', scope: 'sub', derefAliases: 0, sizeLimit: 0, timeLimit: 0, typesOnly: false, filter, attributes: [] } });

test('a filter deeper than the limit is a non-fatal error that names the message and request', () => {
  assert.doesNotThrow(() => decodeLdapMessage(searchWith(nested(32)), OPTS));
  const err = (() => {
    try {
      decodeLdapMessage(searchWith(nested(33)), OPTS);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof LdapDecodeError);
  assert.equal(err.fatal, false);
  assert.equal(err.messageId, 42);
  assert.equal(err.requestType, 'search');
  // 5,000 levels (built by hand: our own encoder recurses): still a typed error, no stack overflow.
  assert.throws(() => decodeLdapMessage(deepSearch(5_000), OPTS), (e: unknown) => e instanceof LdapDecodeError && !e.fatal);
});

test('structural errors are fatal; an unknown protocolOp keeps its message ID', () => {
  const unknownOp = Buffer.from([0x30, 0x05, 0x02, 0x01, 0x07, 0x7f - 0x1f + 0x1e, 0x00]); // [APPLICATION 30]
  try {
    decodeLdapMessage(unknownOp, OPTS);
    assert.fail('decoded');
  } catch (e) {
    assert.ok(e instanceof LdapDecodeError);
    assert.equal(e.fatal, true);
    assert.equal(e.messageId, 7);
  }
  const responseAsRequest = encodeMessage(bindResponse(3, { resultCode: 0 }));
  assert.throws(() => decodeLdapMessage(responseAsRequest, OPTS), (e: unknown) => e instanceof LdapDecodeError && e.fatal);
  const negativeId = Buffer.from([0x30, 0x05, 0x02, 0x01, 0xff, 0x42, 0x00]);
  assert.throws(() => decodeLdapMessage(negativeId, OPTS), (e: unknown) => e instanceof LdapDecodeError && e.fatal && e.messageId === undefined);
});

test('fuzz: random and mutated PDUs only ever raise LdapDecodeError, quickly', () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100_000);
  const rand = prng(seed);
  const corpus = [...REQUESTS.map(encodeRequest), searchWith(nested(20))];
  const started = Date.now();
  let decoded = 0;
  let refused = 0;
  for (let i = 0; i < 20_000; i++) {
    let input: Buffer;
    if (i % 4 === 0) {
      input = Buffer.alloc(Math.floor(rand() * 64));
      for (let j = 0; j < input.length; j++) input[j] = Math.floor(rand() * 256);
      if (input.length && rand() < 0.5) input[0] = 0x30;
    } else {
      input = Buffer.from(corpus[Math.floor(rand() * corpus.length)]!);
      const edits = 1 + Math.floor(rand() * 4);
      for (let e = 0; e < edits; e++) {
        const kind = rand();
        const pos = Math.floor(rand() * input.length);
        if (kind < 0.5) input[pos] = Math.floor(rand() * 256);
        else if (kind < 0.7) input = input.subarray(0, pos);
        else if (kind < 0.85) input = Buffer.concat([input.subarray(0, pos), Buffer.from([Math.floor(rand() * 256)]), input.subarray(pos)]);
        else input[pos] = input[pos]! ^ 0x80;
      }
    }
    try {
      decodeLdapMessage(input, OPTS);
      decoded++;
    } catch (e) {
      if (!(e instanceof LdapDecodeError)) assert.fail(`seed ${seed}, case ${i}: ${String(e)} for ${input.toString('hex')}`);
      if (/undecodable request/.test(e.message)) assert.fail(`seed ${seed}, case ${i}: decoder bug surfaced: ${e.message} for ${input.toString('hex')}`);
      refused++;
    }
  }
  assert.ok(decoded > 100 && refused > 1000, `decoded ${decoded}, refused ${refused}`);
  assert.ok(Date.now() - started < 10_000, 'fuzzing took too long');
  process.stdout.write(`# fuzz seed ${seed}: decoded ${decoded}, refused ${refused}\n`);
});

test('paged results control: decode refuses bad values without a throw of another type', () => {
  assert.deepEqual(decodePagedResults(encodePagedResults({ size: 500, cookie: b('') })), { size: 500, cookie: b('') });
  for (const value of [undefined, b(''), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]), Buffer.from([0x30, 0x05, 0x02, 0x01, 0x05, 0x04, 0x05])]) {
    assert.throws(() => decodePagedResults({ type: LDAP_OID.pagedResults, critical: false, ...(value ? { value } : {}) }), LdapDecodeError);
  }
});
