import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { configFor, print } from '../context.js';
import { formatKonnektorStatus, type KonnektorContext } from '../../crypto/index.js';
import { configuredKonnektorStatus, statusContexts } from '../../roles/konnektor-status.js';

function parseContext(value: string, previous: KonnektorContext[] = []): KonnektorContext[] {
  const [mandantId, clientSystemId, workplaceId, userId, ...rest] = value.split('#');
  if (!mandantId || !clientSystemId || !workplaceId || rest.length) throw new InvalidArgumentError('expected "MandantId#ClientSystemId#WorkplaceId[#UserId]"');
  return [...previous, { mandantId, clientSystemId, workplaceId, ...(userId ? { userId } : {}) }];
}

export function registerKonnektor(program: Command): void {
  const konnektor = program.command('konnektor').description("the practice's Konnektor as the client module uses it (konnektor: in the configuration)");
  konnektor
    .command('status')
    .description('the cards the call contexts reach: certificates (RSA and ECC, ENC and SIG) with their expiry, card handles and PIN status (SOAP Konnektor), service versions and ECC capability')
    .option('--context <ctx>', 'a call context "MandantId#ClientSystemId#WorkplaceId[#UserId]" (repeatable; default: those of clientModule.accounts and konnektor.mandanten)', parseContext)
    .option('--warn-days <days>', 'flag certificates that expire within this many days', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number of days');
      return n;
    }, 30)
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Exit status: 0 when every card was read and no certificate expires within --warn-days, 1 otherwise.

Examples:
  postamt konnektor status
  postamt konnektor status --context "Praxis1#PVS#Empfang" --context "Praxis1#PVS#Empfang#dr.mueller" --json`,
    )
    .action(async (o: { context?: KonnektorContext[]; warnDays: number; json?: boolean }, cmd: Command) => {
      const { config } = configFor(cmd);
      const contexts = o.context ?? statusContexts(config);
      const status = await configuredKonnektorStatus(config, contexts, o.warnDays);
      print(o.json ? JSON.stringify(status, null, 2) : formatKonnektorStatus(status).trimEnd());
      if (status.cards.length === 0 || status.cards.some((c) => c.error || c.certificates.some((x) => x.expiresSoon))) process.exitCode = 1;
    });
}
