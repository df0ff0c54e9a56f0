import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { withAccounts, print, readStdin } from '../context.js';
import type { Config } from '../../config/index.js';
import type { Store } from '../../store/index.js';
import type { Accounts } from '../../service/index.js';
import { AccountsAdmin, KimRegistrations, accountLimits, accountView, generatePassword, type KimAccountView } from '../../service/index.js';

/**
 * A whole number of days, or `default`. Kept as the string: commander replaces a parser's null
 * by `true`, so the action turns `default` into null (back to the configured default).
 */
function limitValue(v: string): number | 'default' {
  if (v === 'default') return v;
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number of days or "default"');
  return Number(v);
}

const orNull = (v: number | 'default'): number | null => (v === 'default' ? null : v);

/** Parses sizes like 500M, 2G, 1048576 into bytes. */
export function parseSize(value: string): number {
  const m = /^(\d+)\s*([kmgt]?)i?b?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 1048576, 500M or 2G');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(m[1]) * mult;
}

/** The operators' view of the accounts, with the KIM registrations and the configured defaults. */
function adminOf(a: Accounts, store: Store, config: Config): AccountsAdmin {
  return new AccountsAdmin(a, { registrations: new KimRegistrations(store.db), defaults: config.service.kim.defaults });
}

const bytesOrUnlimited = (n: number): string => (n === -1 ? 'unlimited' : `${n} bytes`);

/** `account show` as lines of `key<TAB>value`: readable, and cut/awk can take a field. */
export function showLines(v: KimAccountView): string[] {
  const r = v.registration;
  const mark = (own: number | null) => (own === null ? ' (default)' : '');
  const state = r.state === 'deregistration-pending' ? `deregistration pending, deleted after ${r.deregDate}` : r.state === 'deleted' ? `deleted (deregistered, past ${r.deregDate}; removed at the retention job's next run)` : r.state;
  return [
    `address\t${v.address}${v.disabled ? ' (disabled)' : ''}`,
    `telematikId\t${v.telematikId ?? '-'}`,
    `registration\t${state}`,
    `kimVersion\t${r.kimVersion ?? '-'}`,
    `referenceID\t${r.referenceID ?? '-'}`,
    `lastChange\t${r.changedAt ?? '-'}`,
    `dataTimeToLive\t${v.limits.dataTimeToLive} days${mark(v.own.dataTimeToLive)}`,
    `maxMailSize\t${v.limits.maxMailSize} bytes${mark(v.own.maxMailSize)}`,
    `quota\t${bytesOrUnlimited(v.limits.quota)}`,
    `used\t${v.limits.used} bytes`,
    `remainQuota\t${bytesOrUnlimited(v.limits.remainQuota)}`,
  ];
}

async function passwordFrom(o: { password?: string; passwordStdin?: boolean }): Promise<{ password: string; generated: boolean }> {
  if (o.passwordStdin) return { password: await readStdin(), generated: false };
  if (o.password) return { password: o.password, generated: false };
  return { password: generatePassword(), generated: true };
}

export function registerAccount(program: Command): void {
  const account = program.command('account').description('manage mail accounts');
  account
    .command('add <address>')
    .description('add an account; without --password or --password-stdin a password is generated and printed')
    .option('--name <displayName>', 'display name', '')
    .option('--telematik-id <id>', 'Telematik-ID of the practice or person (e.g. 1-20014711)')
    .option('--quota <size>', 'mailbox quota (e.g. 500M, 2G; 0 = none)', parseSize, 0)
    .option('--password <password>', 'the password (visible in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (address: string, o: { name: string; telematikId?: string; quota: number; password?: string; passwordStdin?: boolean }, cmd: Command) => {
      const { password, generated } = await passwordFrom(o);
      await withAccounts(cmd, async (a) => {
        const acc = await a.add({ address, password, displayName: o.name, telematikId: o.telematikId ?? null, quotaBytes: o.quota });
        print(`added account ${acc.address}`);
        if (generated) print(`password: ${password}`);
      });
    });
  account
    .command('list')
    .description('list accounts')
    .option('--domain <domain>', 'only this domain')
    .option('--json', 'print JSON')
    .action(async (o: { domain?: string; json?: boolean }, cmd: Command) => {
      await withAccounts(cmd, async (a, store, config) => {
        const rows = await adminOf(a, store, config).list(o.domain);
        if (o.json) return print(JSON.stringify(rows));
        for (const r of rows) {
          const flags = [r.disabled ? 'disabled' : '', r.telematikId ? `telematik-id=${r.telematikId}` : '', r.quotaBytes ? `quota=${r.usedBytes}/${r.quotaBytes}` : `used=${r.usedBytes}`].filter(Boolean);
          print(`${r.address}\t${r.displayName}\t${flags.join(' ')}`);
        }
      });
    });
  account
    .command('show <address>')
    .description("show the account's KIM registration (state, Telematik-ID, last change) and its limits (dataTimeToLive, maxMailSize, quota, used)")
    .option('--json', 'print JSON')
    .action(async (address: string, o: { json?: boolean }, cmd: Command) => {
      await withAccounts(cmd, async (a, store, config) => {
        const v = await adminOf(a, store, config).kimView(address);
        if (o.json) return print(JSON.stringify(v));
        for (const line of showLines(v)) print(line);
      });
    });
  account
    .command('passwd <address>')
    .description('set a new password; without --password or --password-stdin one is generated and printed')
    .option('--password <password>', 'the password (visible in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (address: string, o: { password?: string; passwordStdin?: boolean }, cmd: Command) => {
      const { password, generated } = await passwordFrom(o);
      await withAccounts(cmd, async (a) => {
        await a.setPassword(address, password);
        print(`password changed for ${address.toLowerCase()}`);
        if (generated) print(`password: ${password}`);
      });
    });
  account
    .command('disable <address>')
    .description('refuse logins and mail for the account, keeping its mailbox')
    .option('--enable', 'enable it again instead')
    .action(async (address: string, o: { enable?: boolean }, cmd: Command) => {
      await withAccounts(cmd, async (a) => {
        await a.setDisabled(address, !o.enable);
        print(`${o.enable ? 'enabled' : 'disabled'} ${address.toLowerCase()}`);
      });
    });
  account
    .command('quota <address> <size>')
    .description('set the mailbox quota (e.g. 500M; 0 = none)')
    .action(async (address: string, size: string, _o, cmd: Command) => {
      const bytes = parseSize(size);
      await withAccounts(cmd, async (a) => {
        await a.setQuota(address, bytes);
        print(`quota of ${address.toLowerCase()} set to ${bytes} bytes`);
      });
    });
  account
    .command('limits <address>')
    .description("show or set the account's KIM limits (getLimits): dataTimeToLive and maxMailSize; 'default' resets one to service.kim.defaults")
    .option('--ttl-days <days>', 'dataTimeToLive: days a message is kept (10 to 365, or default)', limitValue)
    .option('--max-mail-size <size>', 'maxMailSize: largest client mail (at least 700M = 734003200 bytes, or default)', (v: string): number | 'default' => (v === 'default' ? v : parseSize(v)))
    .option('--json', 'print JSON')
    .action(async (address: string, o: { ttlDays?: number | 'default'; maxMailSize?: number | 'default'; json?: boolean }, cmd: Command) => {
      await withAccounts(cmd, async (a, _store, config) => {
        const admin = new AccountsAdmin(a);
        const change = { ...(o.ttlDays !== undefined ? { dataTimeToLive: orNull(o.ttlDays) } : {}), ...(o.maxMailSize !== undefined ? { maxMailSize: orNull(o.maxMailSize) } : {}) };
        const view = Object.keys(change).length ? await admin.change(address, change) : accountView(await a.get(address));
        const limits = accountLimits(
          { dataTimeToLiveDays: view.dataTimeToLive, maxMailSize: view.maxMailSize, quotaBytes: view.quotaBytes, usedBytes: view.usedBytes },
          config.service.kim.defaults,
        );
        if (o.json) return print(JSON.stringify({ address: view.address, ...limits, own: { dataTimeToLive: view.dataTimeToLive, maxMailSize: view.maxMailSize } }));
        const mark = (own: number | null) => (own === null ? ' (default)' : '');
        print(`dataTimeToLive\t${limits.dataTimeToLive} days${mark(view.dataTimeToLive)}`);
        print(`maxMailSize\t${limits.maxMailSize} bytes${mark(view.maxMailSize)}`);
        print(`quota\t${limits.quota === -1 ? 'unlimited' : `${limits.quota} bytes`}`);
        print(`remainQuota\t${limits.remainQuota === -1 ? 'unlimited' : `${limits.remainQuota} bytes`}`);
      });
    });
  account
    .command('rm <address>')
    .description('remove the account and delete its mailbox')
    .action(async (address: string, _o, cmd: Command) => {
      await withAccounts(cmd, async (a) => {
        await a.remove(address);
        print(`removed account ${address.toLowerCase()}`);
      });
    });
}
