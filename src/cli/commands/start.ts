import type { Command } from 'commander';
import { configFor, print } from '../context.js';
import { createLogger, type Logger } from '../../core/index.js';
import { startDemo, startService, startDirectoryFor, formatEndpointTable, writeEndpointsFile } from '../../roles/index.js';

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
    .description('start the demo platform on loopback: the service and the directory (LDAP) with a demo domain and two accounts (what `npm start` runs)')
    .action(async (_o, cmd: Command) => {
      const { config } = configFor(cmd);
      const logger = createLogger(config.log.level, 'async-stdout');
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
    .description('run the service and directory roles as configured (no demo data), until SIGINT/SIGTERM')
    .action(async (_o, cmd: Command) => {
      const { config, file } = configFor(cmd);
      const logger = createLogger(config.log.level, 'async-stdout');
      const service = await startService(config, logger);
      const directory = await startDirectoryFor(service, config, logger).catch(async (err: unknown) => {
        await service.close();
        throw err;
      });
      const endpoints = { ...service.endpoints, ...directory.endpoints };
      const endpointsPath = writeEndpointsFile(config.dataDir, {
        endpoints,
        accounts: [],
        tls: { fingerprint: service.tls.fingerprint, certificate: service.tls.certPath, origin: service.tls.origin },
      });
      const signalled = untilSignal(logger); // before the ready line, which scripts answer with a signal
      logger.info({ config: file, endpoints, endpointsFile: endpointsPath }, 'postamt service running');
      logger.flush(); // scripts wait for this line
      const sig = await signalled;
      logger.info({ signal: sig }, 'shutting down');
      await directory.close(config.service.shutdownGraceMs);
      await service.close();
      logger.info('stopped');
      logger.flush();
    });
}
