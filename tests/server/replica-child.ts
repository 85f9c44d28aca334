import { capturingSender } from '../../src/cli/simulate.ts';
import { fixedClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { startGateway } from '../../src/server/lifecycle.ts';

/**
 * One gateway replica as its own process, for tests/server/replicas.test.ts: started with `fork`, it
 * reports its port and every SMS it sends to the parent over IPC, and stops on "stop". The parent
 * passes the environment (REDIS_URL, DHIS2_URL, …), a fixed "now" and the Redis key prefix.
 */
const send = (m: unknown) => process.send?.(m);
const config = loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1' });
const sender = capturingSender((m) => send({ type: 'sms', id: m.id, to: m.to, text: m.text }), 'http');
const gw = await startGateway(config, createLogger({ level: config.LOG_LEVEL }), {
  sender,
  clock: fixedClock(new Date(process.env.JIBU_TEST_NOW ?? Date.now())),
  ...(process.env.JIBU_TEST_PREFIX ? { redisPrefix: process.env.JIBU_TEST_PREFIX } : {}),
});
send({ type: 'ready', port: gw.port });
process.on('message', (m) => {
  if (m === 'stop') void gw.stop().then(() => process.exit(0));
});
// The parent died: do not outlive it.
process.on('disconnect', () => void gw.stop().then(() => process.exit(0)));
