import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { join, isAbsolute, resolve } from 'node:path';
import { configFor, print } from '../context.js';
import { createTestPki, PRACTICE_KEYS, type IssuedIdentity, type PracticeKeys, type PracticeSpec } from '../../crypto/pki/index.js';
import { DEMO_PRACTICES } from '../../roles/index.js';

const SPEC_HELP = '"id;Name;Telematik-ID;address[;rsa|ecc|both]"';

function parsePractice(value: string, previous: PracticeSpec[] = []): PracticeSpec[] {
  const parts = value.split(';');
  const [id, name, telematikId, email, keys = 'both'] = parts;
  if (parts.length > 5 || !id || !name || !telematikId || !email || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(id) || !PRACTICE_KEYS.includes(keys as PracticeKeys)) {
    throw new InvalidArgumentError(
      `expected ${SPEC_HELP}, e.g. "praxis-c;Praxis C;1-20014713;praxis-c@praxis.kim.test;ecc" (id: lower-case letters, digits, dashes; keys: RSA-2048, brainpoolP256r1 or both, default both)`,
    );
  }
  return [...previous, { id, name, telematikId, email, keys: keys as PracticeKeys }];
}

function files(label: string, i: IssuedIdentity | undefined, j: IssuedIdentity | undefined): string {
  return [i && `${label} ${i.certPath}`, j && `ENC ${j.certPath}`].filter(Boolean).join('  ');
}

export function registerPki(program: Command): void {
  const pki = program.command('pki').description('the TEST-ONLY PKI for demos and tests (never for production)');
  pki
    .command('init')
    .description(
      'create a test CA, per practice SMC-B OSIG and ENC certificates (Telematik-ID in the Admission extension) with RSA-2048 and brainpoolP256r1 keys ' +
        '(osig.*, enc.*; osig-ecc.*, enc-ecc.*) as PEM and PKCS#12, and TLS server/client certificates',
    )
    .option('--dir <dir>', 'where to write it (default: <dataDir>/pki)')
    .option('--practice <spec>', `a practice as ${SPEC_HELP}: which keys its SMC-B gets, default both (repeatable; default: the two demo practices with both)`, parsePractice)
    .option('--tls-name <name...>', 'host names and IPs for the TLS server certificate', ['localhost', '127.0.0.1', '::1'])
    .option('--p12-password <password>', 'password of the .p12 files', 'postamt-test')
    .action(async (o: { dir?: string; practice?: PracticeSpec[]; tlsName: string[]; p12Password: string }, cmd: Command) => {
      const { config } = configFor(cmd);
      const dir = o.dir ? (isAbsolute(o.dir) ? o.dir : resolve(o.dir)) : join(config.dataDir, 'pki');
      const practices = o.practice ?? [...DEMO_PRACTICES];
      const r = await createTestPki({ dir, practices, tlsNames: o.tlsName, p12Password: o.p12Password });
      print(`TEST-ONLY PKI written to ${r.dir} (never use it for real data)`);
      print(`  CA certificate: ${r.caCertPath}`);
      for (const p of r.practices) {
        print(`  ${p.id}: ${p.name}, Telematik-ID ${p.telematikId}, ${p.email}`);
        if (p.osig || p.enc) print(`    RSA-2048:        ${files('OSIG', p.osig, p.enc)}`);
        if (p.osigEcc || p.encEcc) print(`    brainpoolP256r1: ${files('OSIG', p.osigEcc, p.encEcc)}`);
        print('    (keys *.key, PKCS#12 *.p12)');
      }
      print(`  TLS server ${r.tlsServer.certPath}, client ${r.tlsClient.certPath}`);
      print(`  PKCS#12 password: ${r.p12Password}`);
    });
}
