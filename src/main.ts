import { setFlagsFromString } from 'node:v8';
import { loadConfig } from './config.ts';
import { JibuError } from './errors.ts';
import { createLogger } from './log.ts';
import { startGateway } from './server/lifecycle.ts';

/** `npm start`: read the configuration, start the gateway, stop cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(err instanceof JibuError ? err.message : err);
    process.exit(78); // EX_CONFIG
  }
  // A flood of small requests leaves garbage the default heap sizing lets pile up to ~4x the live data before a
  // full collection; a tighter growth factor keeps RSS near the working set (bench/README.md, metrics cardinality).
  if (config.HEAP_GROWING_PERCENT > 0) setFlagsFromString(`--heap-growing-percent=${config.HEAP_GROWING_PERCENT}`);
  const logger = createLogger({ level: config.LOG_LEVEL });
  const gateway = await startGateway(config, logger).catch((err: unknown) => {
    if (err instanceof JibuError) {
      // A readable list for the operator, and one structured line for log collectors.
      console.error(err.message);
      logger.fatal({ code: err.code }, 'start-up refused');
    } else {
      logger.fatal({ err, code: 'JIBU_INTERNAL' }, 'start-up failed');
    }
    logger.flush();
    process.exit(1);
  });
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutdown requested');
    gateway.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    void gateway.reloadFlows().then((r) => {
      if (r.ok) logger.info({ version: r.version }, 'SIGHUP: flows reloaded');
      else
        logger.error(
          { code: 'JIBU_FLOWS_INVALID', problems: r.problems },
          'SIGHUP: reload refused, running flows kept',
        );
    });
  });
}

void main();
