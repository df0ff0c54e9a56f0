import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { dsn, mime } from '../../../src/wire/index.js';

// The delivery report (RFC 3464 multipart/report) as the relay and the client module build it:
// its structure read back with our own MIME codecs and with mailparser, an independent parser.

const BASE: dsn.DeliveryReportInput = {
  to: 'alice@a.test',
  reportingMta: 'mx.a.test',
  subject: 'Undelivered',
  text: 'Zustellung fehlgeschlagen.\r\n',
  recipients: [{ address: 'nobody@b.test', action: 'failed', status: '5.1.1' }],
  originalHeader: Buffer.from('Subject: hello\r\nFrom: a@a.test\r\n\r\n'),
  arrivalDate: new Date(0),
  now: new Date(0),
};

const build = (over: Partial<dsn.DeliveryReportInput> = {}): Buffer => dsn.buildDeliveryReport({ ...BASE, ...over });

/** The report's header fields, its boundary and its three parts (header block + body each). */
function partsOf(report: Buffer) {
  const block = mime.readHeaderBlock(report);
  const type = mime.parseContentType(mime.findField(block.fields, 'Content-Type')?.value);
  const boundary = type.params['boundary']!;
  const split = mime.splitMultipart(report.subarray(block.bodyStart), boundary);
  assert.ok(split.ok, `the report is a complete multipart: ${JSON.stringify(split)}`);
  const body = report.subarray(block.bodyStart);
  const parts = split.parts.map((r) => {
    const bytes = body.subarray(r.start, r.end);
    const head = mime.readHeaderBlock(bytes);
    return { fields: head.fields, type: mime.parseContentType(mime.findField(head.fields, 'Content-Type')?.value).mediaType, body: bytes.subarray(head.bodyStart) };
  });
  return { block, type, boundary, split, parts, epilogue: body.subarray(split.close.end) };
}

describe('wire/dsn delivery report: structure', () => {
  test('a delivery report: three parts, per-recipient fields, a peer reply kept to one printable line, the header without the body', () => {
    const report = dsn
      .buildDeliveryReport({
        to: 'alice@a.test',
        reportingMta: 'mx.a.test',
        subject: 'Undelivered',
        text: 'Zustellung fehlgeschlagen.\r\n',
        recipients: [{ address: 'nobody@b.test', action: 'failed', status: '5.1.1', remoteMta: 'mx.b.test', diagnostic: { type: 'smtp', text: '550 5.1.1 <nobody@b.test>: no such\r\nBcc: injected' } }],
        originalHeader: Buffer.from('Subject: hello\r\nFrom: a@a.test\r\n\r\n'),
        arrivalDate: new Date(0),
        messageFields: [['X-Postamt-Queue-ID', 'Q1']],
        now: new Date(0),
      })
      .toString('utf8');
    assert.match(report, /^From: "Mail Delivery System" <MAILER-DAEMON@mx\.a\.test>\r\nTo: <alice@a\.test>\r\nSubject: Undelivered\r\n/);
    assert.match(report, /Content-Type: multipart\/report; report-type=delivery-status; boundary="(=_postamt_dsn_[0-9a-f]+)"/);
    assert.match(report, /Content-Type: message\/delivery-status\r\n\r\nReporting-MTA: dns; mx\.a\.test\r\nX-Postamt-Queue-ID: Q1\r\nArrival-Date: Thu, 1 Jan 1970 00:00:00 \+0000\r\n\r\nFinal-Recipient: rfc822; nobody@b\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.b\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 <nobody@b\.test>: no such  Bcc: injected\r\n/);
    assert.match(report, /Content-Type: text\/rfc822-headers\r\n\r\nSubject: hello\r\nFrom: a@a\.test\r\n\r\n--=_postamt_dsn_[0-9a-f]+--\r\n$/);
    assert.doesNotMatch(report, /^Bcc:/m, 'a line break in a reply never becomes a field');
  });

  test('the report header: fixed fields in order, extra fields after Auto-Submitted, MIME last; CRLF throughout', () => {
    const report = build({ headerFields: [['X-KIM-Fehlermeldung', '4004'], ['X-KIM-Fehlermeldung', '4005']] });
    const { block, type, parts, epilogue } = partsOf(report);
    assert.deepEqual(
      block.fields.map((f) => f.name),
      ['From', 'To', 'Subject', 'Date', 'Message-ID', 'Auto-Submitted', 'X-KIM-Fehlermeldung', 'X-KIM-Fehlermeldung', 'MIME-Version', 'Content-Type'],
    );
    const value = (n: string) => mime.findFields(block.fields, n).map((f) => f.value);
    assert.deepEqual(value('Date'), ['Thu, 1 Jan 1970 00:00:00 +0000']);
    assert.deepEqual(value('Auto-Submitted'), ['auto-replied'], 'RFC 3834: nobody answers a report automatically');
    assert.deepEqual(value('X-KIM-Fehlermeldung'), ['4004', '4005'], 'repeatable, in order');
    assert.match(value('Message-ID')[0]!, /^<dsn\.[0-9a-f]{24}@mx\.a\.test>$/);
    assert.equal(type.mediaType, 'multipart/report');
    assert.equal(type.params['report-type'], 'delivery-status');
    assert.deepEqual(parts.map((p) => p.type), ['text/plain', 'message/delivery-status', 'text/rfc822-headers']);
    assert.equal(mime.findField(parts[0]!.fields, 'Content-Type')?.value, 'text/plain; charset=utf-8');
    assert.equal(mime.findField(parts[0]!.fields, 'Content-Transfer-Encoding')?.value, '8bit');
    assert.equal(epilogue.length, 0, 'nothing after the close delimiter');
    assert.doesNotMatch(report.toString('latin1'), /[^\r]\n|\r(?!\n)/, 'every line ends in CRLF');
  });

  test('a fresh boundary and Message-ID per report, the boundary inside the RFC 2046 limit', () => {
    const a = partsOf(build());
    const b = partsOf(build());
    assert.notEqual(a.boundary, b.boundary);
    assert.ok(mime.isValidBoundary(a.boundary) && a.boundary.length <= 70);
    assert.notEqual(mime.findField(a.block.fields, 'Message-ID')!.value, mime.findField(b.block.fields, 'Message-ID')!.value);
  });

  test('mailparser reads the same structure: the report type, the UTF-8 text, the status fields, the returned header', async () => {
    const report = build({
      text: 'Die Nachricht an <nobody@b.test> wurde nicht zugestellt. Grüße\r\n',
      recipients: [{ address: 'nobody@b.test', action: 'failed', status: '5.1.1', diagnostic: { type: 'smtp', text: '550 no such user' } }],
    });
    const parsed = await simpleParser(report);
    assert.equal(parsed.subject, 'Undelivered');
    const type = parsed.headers.get('content-type') as { value: string; params: Record<string, string> };
    assert.equal(type.value, 'multipart/report');
    assert.equal(type.params['report-type'], 'delivery-status');
    // mailparser shows message/delivery-status inline, after the human-readable text.
    const [human, status] = (parsed.text ?? '').split('\n\nReporting-MTA: ');
    assert.equal(human, 'Die Nachricht an <nobody@b.test> wurde nicht zugestellt. Grüße', 'the text part is UTF-8');
    assert.match(status!, /Final-Recipient: rfc822; nobody@b\.test\nAction: failed\nStatus: 5\.1\.1\nDiagnostic-Code: smtp; 550 no such user/);
    assert.deepEqual(parsed.attachments.map((a) => [a.contentType, a.content.toString()]), [['text/rfc822-headers', 'Subject: hello\r\nFrom: a@a.test\r\n']]);
  });
});

describe('wire/dsn delivery report: the delivery-status fields (RFC 3464 2.2, 2.3)', () => {
  test('one per-message block, then one block per recipient separated by empty lines; optional fields only when given', () => {
    const report = build({
      recipients: [
        { address: 'x@b.test', action: 'failed', status: '5.1.1', remoteMta: 'mx.b.test', diagnostic: { type: 'smtp', text: '550 no' }, lastAttemptDate: new Date(Date.UTC(2026, 10, 23, 10, 0, 0)) },
        { address: 'y@c.test', action: 'delayed', status: '4.4.1', diagnostic: { type: 'x-postamt', text: 'cannot connect' }, willRetryUntil: new Date(Date.UTC(2026, 10, 28, 10, 0, 0)) },
        { address: 'z@d.test', action: 'relayed', status: '2.0.0' },
      ],
    });
    const status = partsOf(report).parts[1]!.body.toString('latin1');
    assert.equal(
      status,
      [
        'Reporting-MTA: dns; mx.a.test',
        'Arrival-Date: Thu, 1 Jan 1970 00:00:00 +0000',
        '',
        'Final-Recipient: rfc822; x@b.test',
        'Action: failed',
        'Status: 5.1.1',
        'Remote-MTA: dns; mx.b.test',
        'Diagnostic-Code: smtp; 550 no',
        'Last-Attempt-Date: Mon, 23 Nov 2026 10:00:00 +0000',
        '',
        'Final-Recipient: rfc822; y@c.test',
        'Action: delayed',
        'Status: 4.4.1',
        'Diagnostic-Code: x-postamt; cannot connect',
        'Will-Retry-Until: Sat, 28 Nov 2026 10:00:00 +0000',
        '',
        'Final-Recipient: rfc822; z@d.test',
        'Action: relayed',
        'Status: 2.0.0',
        '',
      ].join('\r\n'),
    );
    // Each block reads as a header block of its own, as RFC 3464 2.1 defines them.
    for (const group of status.split('\r\n\r\n').filter((g) => g !== '')) mime.readHeaderBlock(Buffer.from(group + '\r\n', 'latin1'));
  });

  test('no recipients: only the per-message block (RFC 3464 wants one per-recipient block; the callers always give one)', () => {
    const status = partsOf(build({ recipients: [] })).parts[1]!.body.toString('latin1');
    assert.equal(status, 'Reporting-MTA: dns; mx.a.test\r\nArrival-Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n\r\n');
  });

  test('an SMTPUTF8 recipient is named in RFC 6533 utf-8 xtext, not with spaces for its non-ASCII characters', () => {
    const report = build({ recipients: [{ address: 'jörg+x=y\\z@bücher.test', action: 'failed', status: '5.1.1' }, { address: '用户@例子.test', action: 'failed', status: '5.1.1' }] });
    const status = partsOf(report).parts[1]!.body.toString('latin1');
    assert.match(status, /^Final-Recipient: utf-8; j\\x\{F6\}rg\\x\{2B\}x\\x\{3D\}y\\x\{5C\}z@b\\x\{FC\}cher\.test\r\n/m);
    assert.match(status, /^Final-Recipient: utf-8; \\x\{7528\}\\x\{6237\}@\\x\{4F8B\}\\x\{5B50\}\.test\r\n/m);
    assert.doesNotMatch(status, /[^\x00-\x7f]/, 'message/delivery-status stays 7-bit');
    // An ASCII address keeps the rfc822 type and its `+` and `=`.
    assert.match(build({ recipients: [{ address: 'a+b=c@b.test', action: 'failed', status: '5.1.1' }] }).toString('latin1'), /Final-Recipient: rfc822; a\+b=c@b\.test\r\n/);
  });

  test('an SMTPUTF8 report recipient keeps its UTF-8 bytes in To (RFC 6532), not one latin1 byte per character', () => {
    const report = build({ to: 'jörg@ä.test' });
    const to = mime.findField(mime.readHeaderBlock(report).fields, 'To')!;
    assert.equal(Buffer.from(to.raw).toString('utf8'), 'To: <jörg@ä.test>\r\n');
  });
});

describe('wire/dsn delivery report: hostile and odd input', () => {
  test('values from outside are one printable line of at most 900 characters: controls, line breaks and non-ASCII become spaces', () => {
    const report = build({
      headerFields: [['X-KIM-Fehlermeldung', '4004\r\nBcc: evil@x.test']],
      messageFields: [['X-Postamt-Queue-ID', 'Q\0\x1b[31m1']],
      recipients: [{ address: 'x@b.test\r\nAction: delivered', action: 'failed', status: '5.1.1\n', remoteMta: 'mx\r\n.b.test', diagnostic: { type: 'smtp', text: `550 ${'x'.repeat(5000)} ünïcode` } }],
    });
    const text = report.toString('latin1');
    assert.doesNotMatch(text, /^(Bcc|Action: delivered)/m, 'no injected field');
    assert.match(text, /^X-KIM-Fehlermeldung: 4004  Bcc: evil@x\.test\r\n/m);
    assert.match(text, /^X-Postamt-Queue-ID: Q  \[31m1\r\n/m);
    assert.match(text, /^Final-Recipient: rfc822; x@b\.test  Action: delivered\r\nAction: failed\r\nStatus: 5\.1\.1 \r\nRemote-MTA: dns; mx  \.b\.test\r\n/m);
    const diag = /^Diagnostic-Code: (.*)\r\n/m.exec(text)![1]!;
    assert.equal(diag.length, 900, 'cut to 900 characters: the line stays well inside 998 (RFC 5322 2.1.1)');
    for (const line of text.split('\r\n')) assert.ok(line.length <= 998, `line of ${line.length} characters`);
  });

  test('our own fields refuse a line break with a clear error instead of writing a second field', () => {
    assert.throws(() => build({ to: 'a@a.test>\r\nBcc: <x@x.test' }), /header To: value contains a line break/);
    assert.throws(() => build({ subject: 'Hi\r\nBcc: x@x.test' }), /header Subject: value contains a line break/);
    assert.throws(() => build({ reportingMta: 'mx\nBcc: x' }), /value contains a line break/);
    assert.throws(() => build({ headerFields: [['Bad Name', 'x']] }), /invalid header field name "Bad Name"/);
    assert.throws(() => build({ messageFields: [['X:Y', 'x']] }), /invalid header field name "X:Y"/);
  });

  test('an invalid date is refused, not written as NaN', () => {
    assert.throws(() => build({ arrivalDate: new Date(NaN) }), RangeError);
    assert.throws(() => build({ now: new Date('not a date') }), RangeError);
    assert.throws(() => build({ recipients: [{ address: 'x@b.test', action: 'delayed', status: '4.4.1', willRetryUntil: new Date(NaN) }] }), RangeError);
  });

  test('the original header: its bytes kept (8-bit too), trailing empty lines dropped, LF-only kept as it is, empty allowed', () => {
    const eight = Buffer.concat([Buffer.from('Subject: '), Buffer.from([0xe4, 0xfc, 0xff]), Buffer.from('\r\nX: y\r\n\r\n\r\n')]);
    const returned = partsOf(build({ originalHeader: eight })).parts[2]!.body;
    assert.deepEqual(returned, Buffer.concat([eight.subarray(0, eight.length - 4)]), 'bytes unchanged, one CRLF at the end');
    const lf = partsOf(build({ originalHeader: Buffer.from('A: 1\nB: 2\n\n') })).parts[2]!.body;
    assert.equal(lf.toString(), 'A: 1\nB: 2\r\n');
    assert.equal(partsOf(build({ originalHeader: new Uint8Array(0) })).parts[2]!.body.toString(), '\r\n', 'no header: an empty line');
  });

  test('the human-readable text is UTF-8 whatever it holds; a text without final line break still gives a clean delimiter', () => {
    const report = build({ text: 'Verzögert — 遅延' });
    const { parts } = partsOf(report);
    assert.equal(parts[0]!.body.toString('utf8'), 'Verzögert — 遅延');
  });

  test('many recipients and a large original header: linear (a quadratic build of 20 000 blocks would not finish)', { timeout: 20_000 }, () => {
    const recipients = Array.from({ length: 20_000 }, (_, i) => ({ address: `r${i}@b.test`, action: 'failed' as const, status: '5.1.1', diagnostic: { type: 'smtp', text: '550 no' } }));
    const header = Buffer.from('X-Long: ' + 'a'.repeat(4 * 1024 * 1024) + '\r\n\r\n');
    const { parts } = partsOf(build({ recipients, originalHeader: header }));
    assert.equal(parts[1]!.body.toString('latin1').split('Final-Recipient: ').length - 1, 20_000);
    assert.equal(parts[2]!.body.length, header.length - 2);
  });
});
