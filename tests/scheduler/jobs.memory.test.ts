import { schedulerContract } from './contract.ts';

schedulerContract('memory', 'scheduler-memory');
