import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { join, isAbsolute, resolve } from 'node:path';
import { configFor, print } from '../context.js';
import { createTestPki, type PracticeSpec } from '../../crypto/pki/index.js';
import { DEMO_PRACTICES } from '../../roles/index.js';

function parsePractice(value: string, previous: PracticeSpec[] = []): PracticeSpec[] {
  const [id, name, telematikId, email] = value.split(';');
  if (!id || !name || !telematikId || !email || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) {
    throw new InvalidArgumentError('expected "id;Name;Telematik-ID;address", e.g. "praxis-c;Praxis C;1-20014713;praxis-c@praxis.kim.test" (id: lower-case letters, digits, dashes)');
  }
  return [...previous, { id, name, telematikId, email }];
}

export function registerPki(program: Command): void {
  const pki = program.command('pki').description('the TEST-ONLY PKI for demos and tests (never for production)');
  pki
    .command('init')
    .description('create a test CA, per practice an SMC-B OSIG and ENC certificate (Telematik-ID in the Admission extension) as PEM and PKCS#12, and TLS server/client certificates')
    .option('--dir <dir>', 'where to write it (default: <dataDir>/pki)')
    .option('--practice <spec>', 'a practice as "id;Name;Telematik-ID;address" (repeatable; default: the two demo practices)', parsePractice)
    .option('--tls-name <name...>', 'host names and IPs for the TLS server certificate', ['localhost', '127.0.0.1', '::1'])
    .option('--p12-password <password>', 'password of the .p12 files', 'postamt-test')
    .action(async (o: { dir?: string; practice?: PracticeSpec[]; tlsName: string[]; p12Password: string }, cmd: Command) => {
      const { config } = configFor(cmd);
      const dir = o.dir ? (isAbsolute(o.dir) ? o.dir : resolve(o.dir)) : join(config.dataDir, 'pki');
      const r = await createTestPki({ dir, practices: o.practice ?? DEMO_PRACTICES, tlsNames: o.tlsName, p12Password: o.p12Password });
      print(`TEST-ONLY PKI written to ${r.dir} (never use it for real data)`);
      print(`  CA certificate: ${r.caCertPath}`);
      for (const p of r.practices) {
        print(`  ${p.id}: ${p.name}, Telematik-ID ${p.telematikId}, ${p.email}`);
        print(`    OSIG ${p.osig.certPath}  ENC ${p.enc.certPath}  (keys *.key, PKCS#12 *.p12)`);
      }
      print(`  TLS server ${r.tlsServer.certPath}, client ${r.tlsClient.certPath}`);
      print(`  PKCS#12 password: ${r.p12Password}`);
    });
}
