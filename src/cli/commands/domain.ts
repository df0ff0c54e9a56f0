import type { Command } from 'commander';
import { withAccounts, print } from '../context.js';
import { AccountsAdmin } from '../../service/index.js';

export function registerDomain(program: Command): void {
  const domain = program.command('domain').description('manage the local mail domains');
  domain
    .command('add <name>')
    .description('add a local domain (mail for it is accepted by the MX listener)')
    .action(async (name: string, _o, cmd: Command) => {
      await withAccounts(cmd, async (a) => {
        const d = await a.addDomain(name);
        print(`added domain ${d.name}`);
      });
    });
  domain
    .command('list')
    .description('list the local domains')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withAccounts(cmd, async (a) => {
        const rows = await new AccountsAdmin(a).listDomains();
        if (o.json) return print(JSON.stringify(rows));
        for (const r of rows) print(r.name);
      });
    });
  domain
    .command('rm <name>')
    .description('remove a local domain (it must have no accounts left)')
    .action(async (name: string, _o, cmd: Command) => {
      await withAccounts(cmd, async (a) => {
        await a.removeDomain(name);
        print(`removed domain ${name.toLowerCase()}`);
      });
    });
}
