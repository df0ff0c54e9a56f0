import type { Command } from 'commander';
import { configFor, print, serverLogger } from '../context.js';
import { startKonnektorSim } from '../../roles/index.js';

/** `postamt konnektor-sim`: the Konnektor simulator alone, from config.konnektorSim, until SIGINT/SIGTERM. */
export function registerKonnektorSim(program: Command): void {
  program
    .command('konnektor-sim')
    .description('run the Konnektor simulator (gematik SOAP services over HTTPS, cards from konnektorSim.mandanten) and print its connector.sds URL; TEST ONLY')
    .action(async (_o, cmd: Command) => {
      const loaded = configFor(cmd);
      const logger = serverLogger(loaded);
      const sim = await startKonnektorSim(loaded.config, logger);
      const signalled = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      logger.flush();
      print(`Konnektor simulator: ${sim.sdsUrl}`);
      const sig = await signalled;
      logger.info({ signal: sig }, 'shutting down');
      await sim.close();
      logger.flush();
    });
}
