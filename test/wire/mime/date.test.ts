import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mime } from '../../../src/wire/index.js';

// The platform writes dates (Date, Expires, Arrival-Date, Received) but reads none from mail:
// there is only the formatter, held here to the RFC 5322 3.3 date-time grammar (no obsolete
// forms are written: numeric zone, four-digit year, seconds always present).

/** RFC 5322 3.3 date-time as we write it: day-of-week, day month year, hh:mm:ss, zone. */
const DATE_TIME = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([1-9]|[12][0-9]|3[01]) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4,}) ([01]\d|2[0-3]):([0-5]\d):([0-5]\d) \+0000$/;

describe('wire/mime formatRfc5322Date', () => {
  test('known instants in UTC, with the day of the week, an unpadded day and two-digit time fields', () => {
    assert.equal(mime.formatRfc5322Date(new Date(0)), 'Thu, 1 Jan 1970 00:00:00 +0000');
    assert.equal(mime.formatRfc5322Date(new Date(Date.UTC(2026, 10, 23, 10, 0, 0))), 'Mon, 23 Nov 2026 10:00:00 +0000');
    assert.equal(mime.formatRfc5322Date(new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999))), 'Thu, 29 Feb 2024 23:59:59 +0000', 'leap day; milliseconds dropped, not rounded');
    assert.equal(mime.formatRfc5322Date(new Date(Date.UTC(1999, 11, 31, 9, 5, 7))), 'Fri, 31 Dec 1999 09:05:07 +0000');
  });

  test('every month and weekday name, and a date written is read back to the same second by Date.parse', () => {
    const start = Date.UTC(2025, 0, 1, 12, 34, 56);
    for (let day = 0; day < 400; day += 3) {
      const d = new Date(start + day * 86_400_000 + day * 1_234_567);
      const text = mime.formatRfc5322Date(d);
      assert.match(text, DATE_TIME, text);
      assert.equal(Date.parse(text), Math.floor(d.getTime() / 1000) * 1000, text);
    }
  });

  test('the local time zone of the process does not matter', () => {
    const d = new Date(Date.UTC(2026, 5, 1, 0, 30, 0));
    const saved = process.env['TZ'];
    try {
      // Node re-reads TZ when it is assigned; +14 and -10 put the local date on another day.
      for (const tz of ['UTC', 'Pacific/Kiritimati', 'Pacific/Honolulu', 'Europe/Berlin']) {
        process.env['TZ'] = tz;
        assert.equal(mime.formatRfc5322Date(d), 'Mon, 1 Jun 2026 00:30:00 +0000', tz);
      }
    } finally {
      if (saved === undefined) delete process.env['TZ'];
      else process.env['TZ'] = saved;
    }
  });

  test('the edges of the Date range still match the grammar where the year has four or more digits', () => {
    assert.equal(mime.formatRfc5322Date(new Date(Date.UTC(9999, 11, 31, 23, 59, 59))), 'Fri, 31 Dec 9999 23:59:59 +0000');
    assert.match(mime.formatRfc5322Date(new Date(8.64e15)), DATE_TIME, 'the largest Date (year 275760)');
  });

  test('an invalid Date is refused with a RangeError, not written as `undefined, NaN …`', () => {
    for (const d of [new Date(NaN), new Date('not a date'), new Date(8.64e15 + 1)]) {
      assert.throws(() => mime.formatRfc5322Date(d), (e: Error) => e instanceof RangeError && /invalid date/.test(e.message));
    }
  });
});
