import { afterAll } from 'vitest';
import { cleanupRedis } from '../store/harness.ts';
import { followUpContract } from './contract.ts';

// Each world deletes its own prefix on close; this closes the shared admin connection.
afterAll(() => cleanupRedis([]));

followUpContract('redis', 'scheduler-follow-up');
