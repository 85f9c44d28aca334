import { systemClock } from '../../src/clock.ts';
import { createMemoryJobQueue } from '../../src/store/memory-queue.ts';
import { describeJobQueueContract } from './queue-contract.ts';

describeJobQueueContract('memory', () => createMemoryJobQueue({ clock: systemClock, pollMs: 10 }));
