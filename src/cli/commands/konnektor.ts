import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { configFor, print } from '../context.js';
import { UsageError } from '../../core/index.js';
import { cardLoaderFromFiles, createKonnektor, formatKonnektorStatus, SoapKonnektor, SoftwareKonnektor, type Konnektor, type KonnektorContext } from '../../crypto/index.js';
import { accountManagerJwt } from '../../clientmodule/account-manager-jwt.js';
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

  konnektor
    .command('verify-pin')
    .description("unlock a card: VerifyPin at the Konnektor (the PIN is typed at the card terminal, never here); SOAP Konnektor only")
    .requiredOption('--context <ctx>', 'the call context "MandantId#ClientSystemId#WorkplaceId[#UserId]" whose SMC-B is unlocked', (v) => parseContext(v)[0]!)
    .addHelpText(
      'after',
      `
Exit status: 0 when the Konnektor reports the PIN verified, 1 otherwise (wrong PIN, blocked, timeout).

Example:
  postamt konnektor verify-pin --context "Praxis1#PVS#Empfang"`,
    )
    .action(async (o: { context: KonnektorContext }, cmd: Command) => {
      const { config } = configFor(cmd);
      const k = createKonnektor(config.konnektor, config.dataDir);
      try {
        if (!(k instanceof SoapKonnektor)) throw new UsageError('verify-pin needs konnektor.type: soap (a software Konnektor has no PIN)');
        await k.ready();
        const before = await k.pinStatus(o.context);
        print(`PIN status before: ${before.status}${before.leftTries === undefined ? '' : ` (${before.leftTries} tries left)`}`);
        print('type the PIN at the card terminal now');
        const r = await k.verifyPin(o.context);
        print(`VerifyPin: ${r.result}${r.leftTries === undefined ? '' : ` (${r.leftTries} tries left)`}`);
        if (r.result !== 'OK') process.exitCode = 1;
      } finally {
        await k.close?.();
      }
    });

  konnektor
    .command('account-manager-jwt')
    .description("the JWT for KIM's Account Manager (gemSpec_CM_KOMLE A_19457-02): x5c with the SMC-B's C.HCI.AUT certificate, signed by ExternalAuthenticate; printed for curl (docs/kim-provider-apis.md)")
    .option('--context <ctx>', 'the call context "MandantId#ClientSystemId#WorkplaceId" of the configured Konnektor (konnektor:)', (v) => parseContext(v)[0]!)
    .option('--identity <dir>', 'instead: a practice directory of `postamt pki init` (aut.pem/aut.key), signed in software (TEST ONLY)')
    .option('--audience <url>', "aud: the Account Manager's base URL (as service.kim.accountManager.audiences lists it)")
    .option('--lifetime <seconds>', 'exp = now + this (at most the service\'s jwtExpiration)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of seconds');
      return n;
    }, 300)
    .addHelpText(
      'after',
      `
A token is taken once (the Account Manager remembers it until it expires): make one per call.

Examples:
  postamt konnektor account-manager-jwt --identity data/pki/praxis-a
  postamt konnektor account-manager-jwt --context "Praxis1#PVS#Empfang" --audience https://accmgr.anbieter.kim.telematik/AccountMgmt/v2.4`,
    )
    .action(async (o: { context?: KonnektorContext; identity?: string; audience?: string; lifetime: number }, cmd: Command) => {
      if (!o.context === !o.identity) throw new UsageError('give either --context (the configured Konnektor) or --identity (a practice directory)');
      let k: Konnektor;
      let ctx: KonnektorContext;
      if (o.identity) {
        ctx = { mandantId: 'cli', clientSystemId: 'cli', workplaceId: 'cli' };
        k = new SoftwareKonnektor({ mandanten: [{ id: 'cli', clientSystems: ['cli'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: o.identity }, process.cwd()) }], trustAnchors: [] });
      } else {
        const { config } = configFor(cmd);
        k = createKonnektor(config.konnektor, config.dataDir);
        ctx = o.context!;
      }
      try {
        await k.ready?.();
        print(await accountManagerJwt(k, ctx, { lifetimeSeconds: o.lifetime, ...(o.audience ? { audience: o.audience } : {}) }));
      } finally {
        await k.close?.();
      }
    });
}
