import { Command, InvalidArgumentError } from 'commander';
import { createEmulator } from '../emulator/index.ts';
import { DEMO } from '../emulator/demo.ts';

/**
 * `npm run dhis2-emulator -- --port 8080 --version 2.40`: the emulator on a port, so any DHIS2 client
 * (curl, Postman, the Capture app's API calls, Jibu with DHIS2_URL) can talk to it.
 */

function int(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number`);
    return n;
  };
}

const program = new Command()
  .name('dhis2-emulator')
  .description('A DHIS2 2.38–2.42 tracker API emulator with EIR/Vital Events demo data')
  .option('-p, --port <port>', 'port to listen on', int('port'), 8080)
  .option('--host <host>', 'interface to bind', '127.0.0.1')
  .option('-v, --version <version>', 'DHIS2 version to imitate: 2.38 … 2.42, optionally with a patch (2.40.4)', '2.40')
  .option('--time-zone <zone>', 'server time zone', 'Africa/Nairobi')
  .option('--children <n>', 'demo children on the EIR programme', int('children'), 300)
  .option('--seed <n>', 'demo data seed', int('seed'), 20240601)
  .option('--no-demo', 'metadata only: programmes, org units and admin, no people')
  .parse();

const opts = program.opts<{
  port: number;
  host: string;
  version: string;
  timeZone: string;
  children: number;
  seed: number;
  demo: boolean;
}>();

const emulator = createEmulator({
  version: opts.version,
  serverTimeZone: opts.timeZone,
  seed: opts.demo ? { children: opts.children, seed: opts.seed } : false,
});
const server = await emulator.listen(opts.port, opts.host);

console.log(`DHIS2 ${emulator.version.raw} emulator listening on ${server.url}`);
console.log(`  server time zone ${emulator.time.timeZone}, today ${emulator.today()}`);
console.log(`  Basic auth:  ${emulator.credentials.username} / ${emulator.credentials.password}`);
console.log(`  ApiToken:    ${emulator.credentials.token}`);
console.log(`  ApiToken v2: ${emulator.credentials.tokenV2}`);
console.log(`  try: curl -H "Authorization: ApiToken ${emulator.credentials.token}" ${server.url}/api/system/info`);
console.log(
  '  SMS: configure a Generic HTTP gateway at /api/gateways, then POST /api/sms/outbound; DHIS2 reminders: POST /api/emulator/programNotifications/run',
);
if (opts.demo) {
  console.log('  demo caregivers:');
  for (const c of Object.values(DEMO.caregivers)) console.log(`    ${c.phone}  ${c.name}: ${c.demonstrates}`);
  console.log('  demo case workers:');
  for (const c of Object.values(DEMO.caseWorkers))
    console.log(`    ${c.phone}  ${c.name} (${c.username}): ${c.demonstrates}`);
}

const stop = () => {
  void server.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
