import { Command } from 'commander';

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
  .option(
    '--dry-run',
    'show the DHIS2 writes the conversation would make instead of making them (embedded gateway only)',
  )
  .action(async (o: { phone: string; ussd?: string; sms?: boolean; url?: string; key?: string; dryRun?: boolean }) => {
    // Imported here: the simulator pulls in the whole gateway, which other commands do not need.
    const { simulate } = await import('./simulate.ts');
    await simulate(o);
  });

const flows = program.command('flows').description('check, draw and reload the conversation flows');

flows
  .command('check')
  .description(
    "validate every flow and locale as the gateway loads them, plus SMS texts against the deployment's segment budget; exit 1 on any error",
  )
  .argument(
    '[files...]',
    'flow files to check in place of the same-named files in --flows (the whole set is always checked)',
  )
  .option('--flows <dir>', 'folder of flow files', process.env.FLOWS_DIR || 'flows')
  .option('--locales <dir>', 'folder of translations', process.env.LOCALES_DIR || 'locales')
  .option(
    '--deployment <file>',
    'deployment file (sms.segmentBudget); default JIBU_CONFIG or the built-in defaults',
    process.env.JIBU_CONFIG || undefined,
  )
  .option('--default-locale <lang>', 'default locale', process.env.DEFAULT_LOCALE || 'en')
  .option('--strict', 'exit 1 on warnings too (SMS over budget, unused keys)')
  .option('--json', 'print the report as JSON')
  .action(
    async (
      files: string[],
      o: {
        flows: string;
        locales: string;
        deployment?: string;
        defaultLocale: string;
        strict?: boolean;
        json?: boolean;
      },
    ) => {
      const { flowsCheckCommand } = await import('./flows.ts');
      process.exitCode = await flowsCheckCommand({
        flowsDir: o.flows,
        localesDir: o.locales,
        files,
        deploymentFile: o.deployment,
        defaultLocale: o.defaultLocale,
        strict: o.strict,
        json: o.json,
      });
    },
  );

flows
  .command('graph')
  .description(
    'print a flow as a Mermaid flowchart (paste into mermaid.live or a markdown file). SVG is not produced: no offline Mermaid renderer is installed',
  )
  .argument('<flow>', 'flow id (e.g. demo) or path to a flow file')
  .option('--flows <dir>', 'folder of flow files', process.env.FLOWS_DIR || 'flows')
  .option('--locales <dir>', 'folder of translations', process.env.LOCALES_DIR || 'locales')
  .option('--locale <lang>', "label steps with this language's texts")
  .option('--default-locale <lang>', 'default locale', process.env.DEFAULT_LOCALE || 'en')
  .option('--keys', 'label steps with locale keys instead of texts')
  .option('--out <file>', 'write to a .mmd (or .md, fenced) file instead of stdout')
  .action(
    async (
      flow: string,
      o: { flows: string; locales: string; locale?: string; defaultLocale: string; keys?: boolean; out?: string },
    ) => {
      const { flowsGraphCommand } = await import('./flows.ts');
      process.exitCode = await flowsGraphCommand(flow, {
        flowsDir: o.flows,
        localesDir: o.locales,
        locale: o.locale,
        defaultLocale: o.defaultLocale,
        keys: o.keys,
        out: o.out,
      });
    },
  );

const adminUrl = process.env.JIBU_URL || `http://localhost:${process.env.PORT || 3000}`;
const consoleIo = { out: (l: string) => console.log(l), err: (l: string) => console.error(l) };
type AdminOpts = { url: string; token?: string; json?: boolean };
const withAdmin = (c: Command) =>
  c
    .option('--url <base>', 'base URL of the running gateway (env JIBU_URL)', adminUrl)
    .option('--token <token>', 'its ADMIN_TOKEN (default: env ADMIN_TOKEN)', process.env.ADMIN_TOKEN || undefined)
    .option('--json', 'print the answer as JSON');

withAdmin(
  flows
    .command('reload')
    .description(
      'make a running gateway re-read flows/ and locales/ (refused, and the running set kept, on any error)',
    ),
).action(async (o: AdminOpts) => {
  const { flowsReloadCommand } = await import('./admin-client.ts');
  process.exitCode = await flowsReloadCommand(o, consoleIo);
});

const outbox = program.command('outbox').description('queues and dead letters of a running gateway');
withAdmin(outbox.command('list').description('queue counts and dead letters, newest first'))
  .option('--queue <name>', 'only this queue (outbox-sms, outbox-dhis2, timers, jobs)')
  .option('--limit <n>', 'most dead letters to show', (v) => Number(v))
  .action(async (o: AdminOpts & { queue?: string; limit?: number }) => {
    const { outboxListCommand } = await import('./admin-client.ts');
    process.exitCode = await outboxListCommand(o, consoleIo);
  });
withAdmin(
  outbox
    .command('retry')
    .description('put a dead letter back in its queue with fresh attempts')
    .argument('<id>', 'dead letter id (from outbox list)'),
)
  .option('--queue <name>', 'its queue (looked up when not given)')
  .action(async (id: string, o: AdminOpts & { queue?: string }) => {
    const { outboxRetryCommand } = await import('./admin-client.ts');
    process.exitCode = await outboxRetryCommand(id, o, consoleIo);
  });

const jobs = program.command('jobs').description('scheduled jobs of a running gateway');
withAdmin(
  jobs.command('run').description('run a scheduled job now, as if today were --date').argument('<name>', 'job name'),
)
  .option('--date <YYYY-MM-DD>', 'run as if today were this date (default: today)')
  .action(async (name: string, o: AdminOpts & { date?: string }) => {
    const { jobsRunCommand } = await import('./admin-client.ts');
    process.exitCode = await jobsRunCommand(name, o, consoleIo);
  });

const pin = program.command('pin').description('case-worker PINs on a running gateway');
withAdmin(
  pin
    .command('reset')
    .description("forget a case worker's PIN and lock; the next dial signs in again by SMS code")
    .argument('<phone>', "the worker's phone number"),
).action(async (phone: string, o: AdminOpts) => {
  const { pinResetCommand } = await import('./admin-client.ts');
  process.exitCode = await pinResetCommand(phone, o, consoleIo);
});

const schemas = program
  .command('schemas')
  .description('JSON Schemas of the flow and deployment files, generated from the zod schemas');
schemas
  .command('write')
  .description('regenerate schemas/*.schema.json')
  .action(async () => {
    const { writeSchemas } = await import('./schemas.ts');
    for (const f of await writeSchemas(process.cwd())) console.log(`wrote ${f}`);
  });
schemas
  .command('check')
  .description('exit 1 when schemas/*.schema.json differ from the zod schemas')
  .action(async () => {
    const { staleSchemas } = await import('./schemas.ts');
    const stale = await staleSchemas(process.cwd());
    for (const f of stale) console.error(`${f} is out of date: run \`npx jibu schemas write\``);
    process.exitCode = stale.length ? 1 : 0;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
