import { followUpContract } from './contract.ts';

followUpContract('memory', 'scheduler-follow-up');
