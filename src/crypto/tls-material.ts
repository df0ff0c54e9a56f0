import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { inDataDir } from '../config/index.js';
import { UsageError } from '../core/index.js';
import { createSelfSignedTls, fingerprint, type PemPair } from './selfsigned.js';

export interface TlsMaterial extends PemPair {
  /** 'configured' when from config, 'generated' when self-signed into the data directory. */
  origin: 'configured' | 'generated';
  fingerprint: string;
  certPath: string;
}

/** The TLS certificate the listeners use: from config, or self-signed once and kept. */
export async function loadTlsMaterial(config: Config, hostnames: string[]): Promise<TlsMaterial> {
  const { cert, key } = config.tls;
  if (cert || key) {
    if (!cert || !key) throw new UsageError('tls: set both tls.cert and tls.key, or neither');
    const certPath = inDataDir(config, cert);
    const keyPath = inDataDir(config, key);
    for (const [name, p] of [['tls.cert', certPath], ['tls.key', keyPath]] as const) {
      if (!existsSync(p)) throw new UsageError(`${name}: file ${p} does not exist`);
    }
    const pair = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
    return { ...pair, origin: 'configured', fingerprint: fingerprint(pair.cert), certPath };
  }
  const dir = join(config.dataDir, 'tls');
  const certPath = join(dir, 'selfsigned.crt');
  const keyPath = join(dir, 'selfsigned.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = await createSelfSignedTls([...new Set(hostnames)]);
    writeFileSync(keyPath, pair.key, { mode: 0o600 });
    writeFileSync(certPath, pair.cert);
  }
  const pair = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  return { ...pair, origin: 'generated', fingerprint: fingerprint(pair.cert), certPath };
}
