import type { Config, UserSourceConfig } from '../config/index.js';
import { inDataDir } from '../config/index.js';
import type { Accounts } from '../service/index.js';
import type { UserSource } from './types.js';
import { CombinedSource } from './combined.js';
import { AccountsSource } from './sources/accounts.js';
import { FileSource } from './sources/file.js';
import { SqlSource } from './sources/sql.js';
import { LdapSource, readCa } from './sources/ldap.js';
import { RemoteSource } from './sources/remote.js';

export interface SourceParts {
  accounts: Pick<Accounts, 'find' | 'authenticate' | 'listAll'>;
}

/** One source from its configuration block; paths are relative to the data directory. */
export function createUserSource(config: Config, s: UserSourceConfig, parts: SourceParts): UserSource {
  switch (s.type) {
    case 'accounts':
      return new AccountsSource(s.name, s.priority, parts.accounts, config.directory.baseDn, s.domains);
    case 'file':
      return new FileSource(s.name, s.priority, inDataDir(config, s.path), s.delimiter, s.maxBytes);
    case 'sql':
      return new SqlSource({ ...s, baseDir: config.dataDir });
    case 'ldap': {
      const { ca, ...rest } = s;
      const caPem = readCa(ca ? inDataDir(config, ca) : undefined);
      return new LdapSource({ ...rest, ...(caPem ? { ca: caPem } : {}) });
    }
    case 'integration': {
      const { ca, ...rest } = s;
      const caPem = readCa(ca ? inDataDir(config, ca) : undefined);
      return new RemoteSource({ ...rest, ...(caPem ? { ca: caPem } : {}) });
    }
  }
}

/** Every configured source, combined by priority. */
export function createUserSources(config: Config, parts: SourceParts): CombinedSource {
  return new CombinedSource(config.integration.sources.map((s) => createUserSource(config, s, parts)));
}
