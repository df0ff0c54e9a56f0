import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { FileSource, shaCrypt } from '../../../src/integration/index.js';
import { tempDir } from '../../helpers/env.js';
import { collect } from '../../helpers/stream.js';

const PASSWORD = 'Passw0rd';

test('file source: documented columns, quoting, comments, bad lines reported, reloaded when replaced', async () => {
  const dir = tempDir();
  try {
    const path = join(dir.path, 'users.csv');
    const bc = await bcrypt.hash(PASSWORD, 4);
    writeFileSync(
      path,
      [
        '# users for the archive',
        'userName,fullName,emailAddresses,password,distinguishedName',
        `john.doe,"Doe, John","john.doe@example.com john@example.com",${bc},"UID=john.doe,DC=example,DC=com"`,
        `jane.doe,Jane Doe,jane.doe@example.com;jane@example.com,${shaCrypt(PASSWORD, '$6$salt')},`,
        'broken,line',
        'nopass,No Password,,,',
        `John.Doe,duplicate,,${bc},`,
        '',
      ].join('\r\n'),
    );
    const src = new FileSource('users', 1, path);
    assert.deepEqual(await collect(src.list()), [
      { userName: 'john.doe', fullName: 'Doe, John', emailAddresses: ['john.doe@example.com', 'john@example.com'], distinguishedName: 'UID=john.doe,DC=example,DC=com' },
      { userName: 'jane.doe', fullName: 'Jane Doe', emailAddresses: ['jane.doe@example.com', 'jane@example.com'] },
      { userName: 'nopass', fullName: 'No Password' },
    ]);
    assert.equal(src.problems.length, 2);
    assert.match(src.problems[0]!, /line 5: 2 fields/);
    assert.match(src.problems[1]!, /line 7: John\.Doe listed twice/);
    assert.equal(await src.authenticate('john.doe', PASSWORD), true);
    assert.equal(await src.authenticate('JOHN.DOE', PASSWORD), true, 'user names are case-insensitive');
    assert.equal(await src.authenticate('jane.doe', 'nope'), false);
    assert.equal(await src.authenticate('nopass', ''), false);
    assert.equal(await src.authenticate('stranger', PASSWORD), null);
    // Replaced the way editors do (write elsewhere, rename over): seen at the next call.
    writeFileSync(path + '.new', `userName;password\nnew.user;${bc}\n`);
    renameSync(path + '.new', path);
    const semi = new FileSource('users', 1, path, ';');
    assert.deepEqual(await collect(semi.list()), [{ userName: 'new.user' }]);
    await assert.rejects(collect(src.list()), /must name the columns/, 'the comma source sees one column "userName;password"');
    writeFileSync(path, `userName,password\nnew.user,${bc}\n`);
    assert.deepEqual(await collect(src.list()), [{ userName: 'new.user' }]);
    assert.equal(await src.authenticate('john.doe', PASSWORD), null, 'john is gone after the reload');
    assert.equal(await src.authenticate('new.user', PASSWORD), true);
    // No userName column, an unclosed quote, a missing file: the source fails instead of listing nothing.
    for (const text of ['name,password\nx,y\n', 'userName\n"open\n', '']) {
      writeFileSync(path, text);
      await assert.rejects(collect(src.list()));
    }
    await assert.rejects(collect(new FileSource('gone', 1, join(dir.path, 'none.csv')).list()));
  } finally {
    dir.cleanup();
  }
});

