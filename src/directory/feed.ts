import type { Directory } from './directory.js';
import type { Executor } from './repo.js';
import { normaliseString } from './normalise.js';

/** The part of a service account the directory publishes. */
export interface FedAccount {
  address: string;
  displayName: string;
  telematikId: string | null;
}

/**
 * The KIM provider maintains `mail`, `komLeData` and `kimData` (shared/domain/komle.md, api-vzd
 * LDAP_Attribute.adoc): an account with a Telematik-ID puts its address into that Telematik-ID's
 * entry (created with the account's display name if absent); removing the account takes them out
 * again. kimData is written as `<address>,<version>` (no `+`: large messages are not offered, no
 * application tags); a value someone else wrote for the address is replaced like komLeData's. The entry itself stays:
 * names and certificates belong to the card issuer. Structurally this is the service's
 * AccountListener: it runs inside the account's transaction, and `committed` tells the
 * directory's caches after COMMIT.
 */
export class DirectoryAccountFeed {
  constructor(private readonly dir: Directory) {}

  async accountAdded(account: FedAccount, trx?: Executor): Promise<void> {
    if (!account.telematikId) return;
    await publishAddress(this.dir, account.telematikId, account.address, account.displayName, trx);
  }

  async accountRemoved(account: FedAccount, trx?: Executor): Promise<void> {
    if (!account.telematikId) return;
    await withdrawAddress(this.dir, account.telematikId, account.address, trx);
  }

  committed(): void {
    this.dir.changed();
  }
}

function komLeAddress(v: string): string {
  const comma = v.indexOf(',');
  return normaliseString(comma < 0 ? v : v.slice(comma + 1));
}

/** kimData starts with the address: `<address>,<version>[+][,appTags]`. */
function kimDataAddress(v: string): string {
  const comma = v.indexOf(',');
  return normaliseString(comma < 0 ? v : v.slice(0, comma));
}

export async function publishAddress(dir: Directory, telematikId: string, address: string, displayName: string, ex?: Executor): Promise<void> {
  const key = normaliseString(address);
  const kom = `${dir.komLeVersion},${address}`;
  const kim = `${address},${dir.komLeVersion}`;
  await dir.modify(
    telematikId,
    (cur) => {
      const attrs = cur ? structuredClone(cur.attrs) : { telematikID: [telematikId], displayName: [displayName.trim() || address] };
      const mail = (attrs.mail ?? []).filter((m) => normaliseString(m) !== key);
      const komLe = (attrs.komLeData ?? []).filter((k) => komLeAddress(k) !== key);
      const kimData = (attrs.kimData ?? []).filter((k) => kimDataAddress(k) !== key);
      attrs.mail = [...mail, address];
      attrs.komLeData = [...komLe, kom];
      attrs.kimData = [...kimData, kim];
      return { attrs, certs: cur?.certs ?? [] };
    },
    ex,
  );
}

export async function withdrawAddress(dir: Directory, telematikId: string, address: string, ex?: Executor): Promise<void> {
  const key = normaliseString(address);
  await dir.modify(
    telematikId,
    (cur) => {
      if (!cur) return null;
      const attrs = structuredClone(cur.attrs);
      const mail = (attrs.mail ?? []).filter((m) => normaliseString(m) !== key);
      const komLe = (attrs.komLeData ?? []).filter((k) => komLeAddress(k) !== key);
      const kimData = (attrs.kimData ?? []).filter((k) => kimDataAddress(k) !== key);
      if (mail.length === (attrs.mail?.length ?? 0) && komLe.length === (attrs.komLeData?.length ?? 0) && kimData.length === (attrs.kimData?.length ?? 0)) return null;
      if (mail.length) attrs.mail = mail;
      else delete attrs.mail;
      if (komLe.length) attrs.komLeData = komLe;
      else delete attrs.komLeData;
      if (kimData.length) attrs.kimData = kimData;
      else delete attrs.kimData;
      return { attrs, certs: cur.certs };
    },
    ex,
  );
}
