import type { Command } from 'commander';
import { configFor, print, serverLogger } from '../context.js';
import { UsageError, type Logger } from '../../core/index.js';
import { OutcomeRing } from '../../clientmodule/outcomes.js';
import { startDemo, startService, startDirectoryFor, startClientModule, formatEndpointTable, writeEndpointsFile, type Endpoint, type EndpointsFile } from '../../roles/index.js';

/** Resolves on the first SIGINT/SIGTERM; a second one exits at once. */
function untilSignal(logger: Logger): Promise<string> {
  return new Promise((resolve) => {
    let seen = false;
    const onSignal = (sig: string) => {
      if (seen) {
        logger.warn('second signal: exiting without waiting');
        process.exit(130);
      }
      seen = true;
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start the demo platform on loopback (what `npm start` runs): the service, the directory (LDAP) and the client module, a TEST-ONLY PKI, two practices that can mail each other, and the archive integration endpoint; prints every endpoint and credential (also in data/endpoints.json)')
    .action(async (_o, cmd: Command) => {
      const loaded = configFor(cmd);
      const { config } = loaded;
      const logger = serverLogger(loaded);
      const demo = await startDemo(config, logger);
      // Handlers first: scripts send a signal as soon as they read the ready line below.
      const signalled = untilSignal(logger);
      logger.flush();
      print('');
      print('Postamt demo is running. Endpoints and demo credentials:');
      print('');
      print(formatEndpointTable(demo.endpointsFile));
      print('');
      print(`TLS certificate (${demo.service.tls.origin}): ${demo.service.tls.certPath}`);
      print(`  SHA-256 fingerprint ${demo.service.tls.fingerprint}`);
      print(`The same as JSON: ${demo.endpointsPath}`);
      print('Stop with Ctrl-C.');
      const sig = await signalled;
      logger.info({ signal: sig }, 'shutting down');
      await demo.close();
      logger.info('stopped');
      logger.flush();
    });

  program
    .command('serve')
    .description('run the roles as configured (no demo data), until SIGINT/SIGTERM')
    .option('--roles <list>', 'comma-separated roles: service, directory, clientmodule (the client module needs konnektor.mandanten, clientModule.accounts, clientModule.providers and clientModule.directory.url)', 'service,directory')
    .addHelpText('after', '\nIn production start it as `node --initial-old-space-size=256 bin/postamt.js serve` (fewer garbage collections\nunder mail load; docs/configuration.md, "Running the server").')
    .action(async (o: { roles: string }, cmd: Command) => {
      const loaded = configFor(cmd);
      const { config, file } = loaded;
      const roles = new Set(o.roles.split(',').map((r) => r.trim()).filter(Boolean));
      for (const r of roles) if (!['service', 'directory', 'clientmodule'].includes(r)) throw new UsageError(`unknown role "${r}": use service, directory, clientmodule`);
      if (roles.has('directory') && !roles.has('service')) throw new UsageError('the directory role runs with the service role (it is fed by its accounts)');
      const logger = serverLogger(loaded);
      const running: Array<{ close(graceMs?: number): Promise<void> }> = [];
      const closeAll = async () => {
        for (const r of running.reverse()) await r.close(config.service.shutdownGraceMs);
      };
      let endpoints: Record<string, Endpoint> = {};
      const outcomes = new OutcomeRing(config.clientModule.recentOutcomes);
      let tls: EndpointsFile['tls'];
      try {
        if (roles.has('service')) {
          // With the clientmodule role in this process its recent outcomes are shown at /api/clientmodule/outcomes.
          const service = await startService(config, logger, undefined, roles.has('clientmodule') ? { clientModuleOutcomes: () => outcomes } : {});
          running.push({ close: () => service.close() });
          endpoints = { ...endpoints, ...service.endpoints };
          tls = { fingerprint: service.tls.fingerprint, certificate: service.tls.certPath, origin: service.tls.origin };
          if (roles.has('directory')) {
            const directory = await startDirectoryFor(service, config, logger);
            running.push(directory);
            endpoints = { ...endpoints, ...directory.endpoints };
          }
        }
        if (roles.has('clientmodule')) {
          const cm = await startClientModule(config, logger, { outcomes });
          running.push(cm);
          endpoints = { ...endpoints, ...cm.endpoints };
        }
      } catch (err) {
        await closeAll();
        throw err;
      }
      const endpointsPath = writeEndpointsFile(config.dataDir, { endpoints, accounts: [], ...(tls ? { tls } : {}) });
      const signalled = untilSignal(logger); // before the ready line, which scripts answer with a signal
      logger.info({ config: file, roles: [...roles], endpoints, endpointsFile: endpointsPath }, 'postamt service running');
      logger.flush(); // scripts wait for this line
      const sig = await signalled;
      logger.info({ signal: sig }, 'shutting down');
      await closeAll();
      logger.info('stopped');
      logger.flush();
    });
}
