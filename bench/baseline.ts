/**
 * The named peer for bench/ussd.ts: a bare Express + ioredis handler that does what any USSD app must do
 * at minimum — parse the AT form body, GET the caller's state, SET it, answer `CON …`. No flows, no
 * locks, no validation: the ceiling Jibu is measured against.
 */
import express from 'express';
import { Redis } from 'ioredis';

const port = Number(process.env.PORT ?? 3999);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = process.env.BASELINE_PREFIX ?? 'bench-baseline:';
const app = express();
app.use(express.urlencoded({ extended: false }));
app.post('/ussd/africastalking', async (req, res) => {
  const { sessionId, phoneNumber, text } = req.body as Record<string, string>;
  const key = `${prefix}${phoneNumber}`;
  const prev = await redis.get(key);
  const state = { sessionId, text, hops: prev ? (JSON.parse(prev) as { hops: number }).hops + 1 : 1 };
  await redis.set(key, JSON.stringify(state), 'PX', 180_000);
  res.type('text/plain').send(`CON ${phoneNumber} hop ${state.hops} ${text}`);
});
const server = app.listen(port, '127.0.0.1', () => process.send?.({ ready: port }));
process.on('SIGTERM', () => {
  server.close();
  void redis.quit();
});
