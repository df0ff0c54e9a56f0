import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { formatReceived, formatReturnPath, withoutReturnPath, type ReceivedInfo } from '../../../src/wire/smtp/index.js';
import { mime } from '../../../src/wire/index.js';

// The trace fields (RFC 5321 4.4) the mail service prepends to each message it accepts, and the
// Return-Path the relay takes off again before passing a message on.

const BASE: ReceivedInfo = { heloName: 'client.test', clientAddress: '192.0.2.1', byHostname: 'mx.test', protocol: 'ESMTP', id: 'ABC', date: new Date(0) };

describe('wire/smtp trace headers: Received', () => {
  test('the RFC 5321 4.4 shape: from, the client in parentheses, by, with, id, for, the date after the semicolon', () => {
    const h = formatReceived({ ...BASE, clientHostname: 'host.client.test', recipient: 'bob@mx.test', tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, protocol: 'ESMTPS' });
    assert.equal(
      h,
      'Received: from client.test (host.client.test [192.0.2.1])\r\n\tby mx.test (Postamt) with ESMTPS (TLSv1.3 TLS_AES_256_GCM_SHA384) id ABC\r\n\tfor <bob@mx.test>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n',
    );
    // It reads back as one folded field whose date is the RFC 5322 date of the whole platform.
    const [field] = mime.readHeaderBlock(Buffer.from(h)).fields;
    assert.equal(field!.name, 'Received');
    assert.equal(field!.value.split(';')[1]!.trim(), mime.formatRfc5322Date(new Date(0)));
  });

  test('optional parts left out: no reverse name (or one that is only the literal), no TLS, no single recipient', () => {
    assert.equal(formatReceived(BASE), 'Received: from client.test ([192.0.2.1])\r\n\tby mx.test (Postamt) with ESMTP id ABC;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n');
    assert.equal(formatReceived({ ...BASE, clientHostname: '[192.0.2.1]' }), formatReceived(BASE));
    assert.match(formatReceived({ ...BASE, clientAddress: '2001:db8::1' }), /\(\[IPv6:2001:db8::1\]\)/, 'RFC 5321 4.1.3 address literal');
    assert.match(formatReceived({ ...BASE, heloName: '' }), /^Received: from unknown \(/);
  });

  test('Received cannot be broken by hostile HELO names', () => {
    const h = formatReceived({
      heloName: 'evil\r\nX-Injected: yes',
      clientAddress: '192.0.2.1',
      byHostname: 'mx.test',
      protocol: 'ESMTP',
      id: 'ABC',
      date: new Date(0),
    });
    assert.doesNotMatch(h, /\r\nX-Injected/);
    assert.match(h, /^Received: from evilX-Injected: yes \(\[192\.0\.2\.1\]\)\r\n\tby mx\.test \(Postamt\) with ESMTP id ABC;\r\n\tThu, 1 Jan 1970 00:00:00 \+0000\r\n$/);
  });

  test('no value from outside can add a line, close a comment or end the clauses early; long values are cut', () => {
    const evil = 'a\r\nX: 1\0();<>\x7f';
    const h = formatReceived({ ...BASE, heloName: evil, clientHostname: evil, clientAddress: '192.0.2.1\r\nX: 2', byHostname: evil, protocol: 'ESMTP\r\nX: 3', id: evil, recipient: `x@y>\r\nX: 4`, tls: { protocol: evil, cipher: evil } });
    assert.equal(h.split('\r\n').filter((l) => /^X:/.test(l)).length, 0);
    assert.equal((h.match(/;/g) ?? []).length, 1, 'only the semicolon before the date');
    const lines = h.split('\r\n');
    assert.equal(lines.length, 5, 'Received, by, for, date and the final empty string');
    assert.ok(lines.slice(1, -1).every((l) => l.startsWith('\t')), 'every further line is a continuation');
    const long = formatReceived({ ...BASE, heloName: 'h'.repeat(10_000), recipient: `${'r'.repeat(10_000)}@x` });
    assert.match(long, /from h{255} \(/);
    assert.match(long, /for <r{320}>/);
  });

  test('an invalid date is refused, not written as NaN', () => {
    assert.throws(() => formatReceived({ ...BASE, date: new Date(NaN) }), RangeError);
  });
});

describe('wire/smtp trace headers: Return-Path', () => {
  test('the envelope sender in angle brackets; the null sender as <>; nothing that breaks out', () => {
    assert.equal(formatReturnPath('alice@a.test'), 'Return-Path: <alice@a.test>\r\n');
    assert.equal(formatReturnPath(''), 'Return-Path: <>\r\n');
    assert.equal(formatReturnPath('a@b>\r\nBcc: <x@y'), 'Return-Path: <a@bBcc: x@y>\r\n');
    assert.equal(formatReturnPath('x'.repeat(1000)), `Return-Path: <${'x'.repeat(320)}>\r\n`);
  });

  test('the relayed message loses our leading Return-Path (folded or not) and nothing else', () => {
    const m = Buffer.from('Return-Path: <a@a.test>\r\nReceived: from x\r\n\tby y; date\r\nSubject: s\r\n\r\nbody\r\n');
    assert.equal(Buffer.from(withoutReturnPath(m)).toString(), 'Received: from x\r\n\tby y; date\r\nSubject: s\r\n\r\nbody\r\n');
    const folded = Buffer.from('return-path:\r\n <a@a.test>\r\nSubject: s\r\n\r\n');
    assert.equal(Buffer.from(withoutReturnPath(folded)).toString(), 'Subject: s\r\n\r\n');
    const none = Buffer.from('Subject: Return-Path: no\r\n\r\n');
    assert.equal(withoutReturnPath(none), none);
    // Only letters fold: CR is not '-', SUB (0x1a) is not ':'.
    for (const odd of ['Return\rPath: <a@a.test>\r\nSubject: s\r\n\r\n', 'Return-Path\x1a <a@a.test>\r\nSubject: s\r\n\r\n']) {
      const m2 = Buffer.from(odd, 'latin1');
      assert.equal(withoutReturnPath(m2), m2);
    }
  });

  test('a view, not a copy; only the first field; edge cases at the end of the input', () => {
    const m = Buffer.from('Return-Path: <a>\r\nReturn-Path: <b>\r\n\r\n');
    const out = withoutReturnPath(m);
    assert.equal(out.buffer, m.buffer, 'same memory');
    assert.equal(Buffer.from(out).toString(), 'Return-Path: <b>\r\n\r\n', 'a second Return-Path is not ours to judge');
    assert.equal(withoutReturnPath(Buffer.from('Return-Path: <a>\r\n')).length, 0, 'a message that is only the field');
    const unterminated = Buffer.from('Return-Path: <a>');
    assert.equal(withoutReturnPath(unterminated), unterminated, 'no line end: left as it is');
    const lfOnly = Buffer.from('Return-Path: <a>\nSubject: s\n\n');
    assert.equal(withoutReturnPath(lfOnly), lfOnly, 'only CRLF ends the field (the service stores CRLF messages)');
    for (const short of ['', 'R', 'Return-Path']) assert.equal(withoutReturnPath(Buffer.from(short)).length, short.length);
  });

  test('a long folded Return-Path is one linear pass', { timeout: 20_000 }, () => {
    const m = Buffer.from('Return-Path: <a>' + '\r\n x'.repeat(1_000_000) + '\r\nSubject: s\r\n\r\n');
    assert.equal(Buffer.from(withoutReturnPath(m)).toString(), 'Subject: s\r\n\r\n');
  });
});
