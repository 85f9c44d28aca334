import { createRequire } from 'node:module';
import type twilio from 'twilio';

let sdk: typeof twilio | undefined;

/**
 * The `twilio` SDK, loaded on first use (a Twilio webhook or send). It is the largest dependency (about
 * 25 MB of a process's memory), and a gateway on another provider never touches it (bench/README.md,
 * gateway RSS). The same module object a static import gives.
 */
export function twilioSdk(): typeof twilio {
  sdk ??= createRequire(import.meta.url)('twilio') as typeof twilio;
  return sdk;
}
