import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAdmission, encodeAdmission } from '../../../src/crypto/index.js';

test('Admission extension: round trip, and malformed values decode to null', () => {
  const der = encodeAdmission({ professionItem: 'Betriebsstätte Arzt', professionOid: '1.2.276.0.76.4.50', telematikId: '5-SMC-B-Testkarte-883110000092412' });
  assert.deepEqual(decodeAdmission(new Uint8Array(der)), { professionItem: 'Betriebsstätte Arzt', professionOid: '1.2.276.0.76.4.50', telematikId: '5-SMC-B-Testkarte-883110000092412' });
  assert.equal(decodeAdmission(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), null);
  assert.equal(decodeAdmission(new Uint8Array([0xff, 0xff])), null);
  assert.equal(decodeAdmission(new Uint8Array(0)), null);
  assert.throws(() => encodeAdmission({ professionItem: 'x', professionOid: '1.2.3', telematikId: 'ä-not-printable' }), /PrintableString/);
});
