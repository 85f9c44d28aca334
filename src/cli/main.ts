import { Command } from 'commander';
import { simulate } from './simulate.ts';

/** The `jibu` command line (`npx jibu …`, `npm run jibu -- …`). */
const program = new Command('jibu').description('Jibu SMS/USSD gateway for DHIS2 immunization programmes');

program
  .command('simulate')
  .description('hold a USSD or SMS conversation in the terminal (embedded gateway, or --url a running one)')
  .requiredOption('--phone <e164>', 'the phone number you are', '+254700000001')
  .option('--ussd <code>', 'USSD service code to dial', '*384*12#')
  .option('--sms', 'SMS mode instead of USSD')
  .option('--url <base>', 'talk to a running gateway at this URL')
  .option('--key <secret>', 'WEBHOOK_SECRET of that gateway')
  .action(async (o: { phone: string; ussd?: string; sms?: boolean; url?: string; key?: string }) => {
    await simulate(o);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
