import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { addressKind, addressRefusal, hostRefusal, isMetadataName, isOwnListener, type TargetPolicy } from '../../src/core/index.js';

const STRICT: TargetPolicy = { allowPrivate: false, allowLoopback: false, ownListeners: [], keys: { private: 'x.allowPrivateTargets', loopback: 'x.allowLoopbackTargets' } };
const OPEN: TargetPolicy = { ...STRICT, allowPrivate: true, allowLoopback: true };

/** The hostname as the WHATWG URL parser gives it (the form http-client and agent-config see). */
const hostOf = (url: string) => new URL(url).hostname;

describe('target policy', () => {
  test('every kind of address is classified, IPv4-mapped and other embedded IPv6 forms by their IPv4 address', () => {
    const cases: Array<[string, ReturnType<typeof addressKind>]> = [
      ['93.184.215.14', 'public'],
      ['2606:4700::1111', 'public'],
      ['169.254.169.254', 'metadata'],
      ['100.100.100.200', 'metadata'],
      ['fd00:ec2::254', 'metadata'],
      ['[fd00:ec2:0:0:0:0:0:254]', 'metadata'],
      ['169.254.1.1', 'link-local'],
      ['fe80::1', 'link-local'],
      ['febf::1', 'link-local'],
      ['0.0.0.0', 'unspecified'],
      ['0.1.2.3', 'unspecified'],
      ['::', 'unspecified'],
      ['224.0.0.1', 'multicast'],
      ['239.255.255.250', 'multicast'],
      ['ff02::1', 'multicast'],
      ['255.255.255.255', 'broadcast'],
      ['240.0.0.1', 'reserved'],
      ['10.0.0.1', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['172.32.0.1', 'public'],
      ['192.168.0.1', 'private'],
      ['100.64.0.1', 'private'],
      ['100.128.0.1', 'public'],
      ['fc00::1', 'private'],
      ['fd12:3456::1', 'private'],
      ['127.0.0.1', 'loopback'],
      ['127.255.0.1', 'loopback'],
      ['::1', 'loopback'],
      ['::ffff:169.254.169.254', 'metadata'],
      ['::ffff:a9fe:a9fe', 'metadata'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:10.0.0.1', 'private'],
      ['::ffff:0.0.0.0', 'unspecified'],
      ['::ffff:224.0.0.1', 'multicast'],
      ['::127.0.0.1', 'loopback'],
      ['64:ff9b::a9fe:a9fe', 'metadata'],
      ['::ffff:8.8.8.8', 'public'],
    ];
    for (const [ip, kind] of cases) assert.equal(addressKind(ip), kind, ip);
    assert.throws(() => addressKind('example.test'), /not an IP address/);
  });

  test('numeric host forms are normalised by the URL parser and refused as what they are', () => {
    for (const url of ['http://2130706433/', 'http://0x7f.1/', 'http://017700000001/', 'http://127.1/', 'http://0x7f000001/', 'http://[::ffff:7f00:1]/']) {
      assert.match(hostRefusal(hostOf(url), 80, STRICT)!, /is a loopback address, called only with x\.allowLoopbackTargets: true/, url);
    }
    assert.match(hostRefusal(hostOf('http://0/'), 80, OPEN)!, /0\.0\.0\.0 is the unspecified address, which is never called/);
    assert.match(hostRefusal(hostOf('http://2852039166/'), 80, OPEN)!, /169\.254\.169\.254 is a cloud metadata address/);
    assert.match(hostRefusal(hostOf('http://[::ffff:169.254.169.254]/'), 80, OPEN)!, /cloud metadata address/);
    assert.match(hostRefusal(hostOf('http://012.0.0.1/'), 80, STRICT)!, /10\.0\.0\.1 is a private address, called only with x\.allowPrivateTargets: true/);
  });

  test('always refused, whatever the switches: link-local, metadata, unspecified, multicast, broadcast', () => {
    for (const ip of ['169.254.169.254', 'fd00:ec2::254', '169.254.10.10', 'fe80::1', '0.0.0.0', '::', '224.0.0.251', 'ff05::2', '255.255.255.255', '::ffff:169.254.169.254']) {
      assert.match(addressRefusal(ip, 80, OPEN)!, /which is never called$/, ip);
    }
  });

  test('private ranges and loopback only when allowed; public addresses always', () => {
    for (const ip of ['10.0.0.1', '172.16.5.4', '192.168.0.1', '100.64.0.1', 'fc00::1', '::ffff:192.168.0.1']) {
      assert.match(addressRefusal(ip, 80, STRICT)!, /private address, called only with x\.allowPrivateTargets/, ip);
      assert.match(addressRefusal(ip, 80, { ...STRICT, allowLoopback: true })!, /private address/, ip);
      assert.equal(addressRefusal(ip, 80, { ...STRICT, allowPrivate: true }), null, ip);
    }
    for (const ip of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      assert.match(addressRefusal(ip, 80, STRICT)!, /loopback address, called only with x\.allowLoopbackTargets/, ip);
      assert.match(addressRefusal(ip, 80, { ...STRICT, allowPrivate: true })!, /loopback/, ip);
      assert.equal(addressRefusal(ip, 80, { ...STRICT, allowLoopback: true }), null, ip);
    }
    for (const ip of ['93.184.215.14', '2606:4700::1111']) assert.equal(addressRefusal(ip, 443, STRICT), null, ip);
  });

  test("the platform's own listeners are refused even with loopback and private targets allowed", () => {
    const policy: TargetPolicy = { ...OPEN, ownListeners: [{ host: '127.0.0.1', port: 8080 }, { host: '0.0.0.0', port: 2525 }, { host: '10.1.2.3', port: 4465 }, { host: 'localhost', port: 1389 }] };
    const local = ['127.0.0.1', '10.9.9.9', 'fe80::1'];
    // Loopback at any listener's port, whatever address the listener is on.
    for (const [ip, port] of [['127.0.0.1', 8080], ['127.0.0.2', 8080], ['::1', 8080], ['::ffff:127.0.0.1', 8080], ['127.0.0.1', 2525], ['127.0.0.1', 1389]] as const) {
      assert.match(addressRefusal(ip, port, policy, local)!, /one of this platform's own listeners/, `${ip}:${port}`);
    }
    // The listener's own address; a listener on the unspecified address on every address of the host.
    assert.ok(isOwnListener('10.1.2.3', 4465, policy.ownListeners, local));
    assert.ok(isOwnListener('::ffff:10.1.2.3', 4465, policy.ownListeners, local));
    assert.ok(isOwnListener('10.9.9.9', 2525, policy.ownListeners, local));
    assert.ok(!isOwnListener('10.9.9.9', 4465, policy.ownListeners, local), 'that listener is bound to 10.1.2.3 only');
    assert.ok(!isOwnListener('10.1.2.4', 2525, policy.ownListeners, local), 'not an address of this host');
    // Other ports on loopback are allowed (allowLoopback).
    assert.equal(addressRefusal('127.0.0.1', 8081, policy, local), null);
    // By name: localhost is loopback without asking DNS.
    assert.match(hostRefusal('localhost', 8080, policy, local)!, /^localhost is loopback: .*own listeners/);
    assert.match(hostRefusal('api.localhost', 8080, policy, local)!, /own listeners/);
    assert.equal(hostRefusal('localhost', 8081, policy, local), null);
    assert.match(hostRefusal('localhost', 8081, STRICT)!, /^localhost is loopback: .*allowLoopbackTargets/);
  });

  test('metadata names are refused by name; other names are left to the check after DNS', () => {
    for (const n of ['metadata.google.internal', 'METADATA.google.internal.', 'metadata', 'metadata.internal', 'instance-data', 'instance-data.ec2.internal']) {
      assert.ok(isMetadataName(n), n);
      assert.match(hostRefusal(n, 80, OPEN)!, /cloud metadata name, which is never called/, n);
    }
    for (const n of ['erp.corp.internal', 'metadata.example.com', 'hooks.example.test']) {
      assert.ok(!isMetadataName(n), n);
      assert.equal(hostRefusal(n, 80, STRICT), null, n);
    }
  });
});
