import { afterAll } from 'vitest';
import { cleanupRedis } from '../store/harness.ts';
import { remindersContract } from './contract.ts';

// Each world deletes its own prefix on close; this closes the shared admin connection.
afterAll(() => cleanupRedis([]));

remindersContract('redis', 'scheduler-reminders');
