import type { Logger } from '../core/index.js';
import { CM_KOMLE_VERSION } from '../crypto/index.js';
import { compareVersions, type KomLeVersionInfo } from './komle-version.js';
import type { OutdatedClientModule } from './dsn.js';

/** Addresses remembered as "already logged" before the set is started afresh (it must not grow without bound). */
const MAX_REMEMBERED = 10_000;

/**
 * A_21387-01: before sending, the sender's KOM-LE version from the directory is compared with
 * the client module's own (the PT version's major.minor). Lower here: the sender is told, in a
 * DSN with 4017, that the client module is outdated (the message is still sent). Higher here:
 * the spec wants the sender's komLeData overwritten with our version.
 */
export class SenderVersionCheck {
  private readonly logged = new Set<string>();

  constructor(
    private readonly logger: Logger,
    private readonly own: string = CM_KOMLE_VERSION,
  ) {}

  /** The notice for the sender's DSN when the client module is outdated; null otherwise. */
  check(address: string, registered: KomLeVersionInfo): OutdatedClientModule | null {
    const cmp = compareVersions(this.own, registered.version);
    if (cmp < 0) return { registered: registered.version, own: this.own };
    if (cmp > 0) {
      // TODO(account manager): A_21387-01 wants komLeData of the sender overwritten with our
      // version. The directory is written by the KIM provider through the Account Manager
      // (I_AccountManager setAccount / the KIM version report of the admin module), which the
      // client module has no client for yet: until then this is only logged, once per address.
      const key = address.toLowerCase();
      if (!this.logged.has(key)) {
        if (this.logged.size >= MAX_REMEMBERED) this.logged.clear();
        this.logged.add(key);
        this.logger.info({ address, registered: registered.version, source: registered.source, own: this.own }, 'the directory lists an older KOM-LE version for the sender than this client module has (komLeData not updated: no Account Manager client yet)');
      }
    }
    return null;
  }
}
