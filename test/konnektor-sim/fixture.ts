import { Agent } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import * as soap from 'soap';
import { configSchema } from '../../src/config/index.js';
import { silentLogger } from '../../src/core/index.js';
import { createTestPki, type TestPkiResult } from '../../src/crypto/index.js';
import { apiTelematikDir, serviceWsdl, type ServiceName } from '../../src/konnektor-sim/index.js';
import { startKonnektorSim, type RunningKonnektorSim } from '../../src/roles/index.js';
import { runSync } from '../helpers/process.js';

// A running Konnektor simulator over a test PKI: Mandant 1 with praxis-a's SMC-B (RSA and ECC
// keys) and an HBA (praxis-b's files), Mandant 2 with praxis-b's SMC-B; plus SOAP clients built
// by node-soap from the same vendored WSDLs (a client, not the product's SOAP client).

export const CTX = { MandantId: '1', ClientSystemId: 'KOM_LE', WorkplaceId: '7' };
export const CTX2 = { MandantId: '2', ClientSystemId: 'PVS', WorkplaceId: 'any' };

export interface SimFixture {
  dir: string;
  pki: TestPkiResult;
  sim: RunningKonnektorSim;
  agent: Agent;
  caPem: string;
  client(service: ServiceName): Promise<soap.Client>;
  close(): Promise<void>;
}

export async function startSimFixture(konnektorSim: Record<string, unknown> = {}): Promise<SimFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'postamt-ksim-'));
  const pki = await createTestPki({
    dir: join(dir, 'pki'),
    practices: [
      { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: 'praxis-a@praxis.kim.test', keys: 'both' },
      { id: 'praxis-b', name: 'Praxis B', telematikId: '1-20014712', email: 'praxis-b@praxis.kim.test' },
    ],
    tlsNames: ['localhost', '127.0.0.1'],
  });
  const config = configSchema.parse({
    dataDir: dir,
    log: { level: 'silent' },
    konnektorSim: {
      trustAnchors: ['pki/ca.pem'],
      mandanten: [
        { id: '1', clientSystems: ['KOM_LE'], workplaces: ['7', '8'], smcb: { dir: 'pki/praxis-a' }, hba: { 'dr.b': { dir: 'pki/praxis-b' } } },
        { id: '2', clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: 'pki/praxis-b' } },
      ],
      ...konnektorSim,
    },
  });
  // The TLS server certificate of the test PKI (a CA-issued one: Python's ssl does not take a self-signed leaf as anchor).
  const tlsCert = readFileSync(pki.tlsServer.certPath, 'utf8');
  const tls = { cert: tlsCert, key: readFileSync(pki.tlsServer.keyPath, 'utf8'), origin: 'configured' as const, fingerprint: '', certPath: pki.tlsServer.certPath };
  const sim = await startKonnektorSim(config, silentLogger(), { tls });
  const caPem = readFileSync(pki.caCertPath, 'utf8');
  const agent = new Agent({ ca: caPem, keepAlive: false });
  const clients = new Map<ServiceName, soap.Client>();
  return {
    dir,
    pki,
    sim,
    agent,
    caPem,
    async client(service) {
      let c = clients.get(service);
      if (!c) {
        const w = serviceWsdl(service, versionOf(service));
        c = await soap.createClientAsync(join(apiTelematikDir(), 'conn', w.file), {}, sim.simulator.endpointOf(service));
        clients.set(service, c);
      }
      return c;
    },
    async close() {
      await sim.close();
      agent.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const versionOf = (s: ServiceName): string => ({ EventService: '7.2.0', CardService: '8.1.2', CertificateService: '6.0.1', SignatureService: '7.5.5', EncryptionService: '6.1.1', AuthSignatureService: '7.4.1' })[s];

/** Calls an operation; resolves with the parsed result and the raw response. */
export async function call(c: soap.Client, op: string, args: unknown, agent: Agent): Promise<{ result: Record<string, unknown>; raw: string }> {
  const fn = (c as unknown as Record<string, (a: unknown, o: unknown) => Promise<[Record<string, unknown>, string]>>)[`${op}Async`];
  assert.ok(fn, `no operation ${op}`);
  const [result, raw] = await fn.call(c, args, { httpsAgent: agent });
  return { result, raw };
}

/** The SOAP fault a call ends with: HTTP status, TelematikError code and the raw body. */
export async function faultOf(c: soap.Client, op: string, args: unknown, agent: Agent): Promise<{ status: number; code: string; raw: string }> {
  try {
    await call(c, op, args, agent);
  } catch (err) {
    const e = err as { response?: { status: number; data: string }; body?: string };
    const raw = e.body ?? e.response?.data ?? '';
    const code = /<GERROR:Code>(\d+)<\/GERROR:Code>/.exec(raw)?.[1] ?? '';
    return { status: e.response?.status ?? 0, code, raw };
  }
  assert.fail(`${op} did not fail`);
}

/** The Body's child element of a SOAP envelope, as text (the simulator's are self-contained in their namespaces). */
export function bodyChild(envelope: string): string {
  const m = /<(\w+):Body>([\s\S]*)<\/\1:Body>/.exec(envelope);
  assert.ok(m, `no SOAP Body in ${envelope.slice(0, 300)}`);
  return m[2]!;
}

/** Validates XML against one of gematik's vendored XSDs (path relative to api-telematik) with xmllint. */
export function assertValid(xml: string, xsd: string, dir: string): void {
  const file = join(dir, `doc-${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, xml);
  const res = runSync('xmllint', ['--noout', '--schema', join(apiTelematikDir(), xsd), file]);
  assert.equal(res.code, 0, `xmllint --schema ${xsd}:\n${res.stderr}\n${xml.slice(0, 2000)}`);
}
