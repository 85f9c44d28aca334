import { remindersContract } from './contract.ts';

remindersContract('memory', 'scheduler-reminders');
