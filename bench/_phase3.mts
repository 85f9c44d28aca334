import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startGateway } from '../src/server/lifecycle.ts';
import { Agent, request } from 'node:http';
const gw = await startGateway(loadConfig({ PORT: '0', HOST: '127.0.0.1', REDIS_URL: 'redis://127.0.0.1:6379/7', LOG_LEVEL: 'silent' }), createLogger({ level: 'silent' }), { redisPrefix: 'ph3:' });
const N = 1500;
const agent = new Agent({ keepAlive: true, maxSockets: 50 });
const post = (body: string) => new Promise<string>((res, rej) => { const q = request(`http://127.0.0.1:${gw.port}/ussd/africastalking`, { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (r) => { let t = ''; r.on('data', (c) => t += c); r.on('end', () => res(t)); }); q.on('error', rej); q.end(body); });
const t0 = performance.now();
await Promise.all(Array.from({ length: 50 }, async (_, w) => {
  for (let i = w; i < N; i += 50) {
    const from = '+25471' + String(1000000 + i);
    for (const p of ['', '2', '2*14', '2*14*tomorrow']) await post(new URLSearchParams({ sessionId: 'h' + i, serviceCode: '*384*12#', phoneNumber: from, networkCode: '1', text: p }).toString());
  }
}));
console.log('HTTP 50 concurrent hops/s', ((N * 4) / ((performance.now() - t0) / 1000)).toFixed(0));
agent.destroy(); await gw.stop();
