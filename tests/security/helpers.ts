import { spawn } from 'node:child_process';
import { captured } from '../server/harness.ts';

/** Secrets of the strength production requires (as `openssl rand -hex 32` makes them, shortened). */
export const STRONG = {
  ADMIN_TOKEN: '5f0c9e2b7a41d863c5e0f9a27b4d18e6a3c7f05b92d4e1a8',
  WEBHOOK_SECRET: 'c81f4a0e6d29b7c35e8a1f046b9d2c7e3a5f8b01d4c6e92f',
  METRICS_TOKEN: '0d7a3e9c5b1f8246e0a9c3d7b5f1e8246a0c9e3d7b5f1a82',
  PIN_PEPPER: '7e2b9d4f1a6c3e8b0d5f2a7c4e9b1d6f3a8c0e5b2d7f4a9c',
};

/** A production-shaped environment that passes every rule: tests remove or spoil one part of it. */
export const PRODUCTION: Record<string, string> = {
  DHIS2_URL: 'https://dhis2.example.org',
  DHIS2_TOKEN: 'd2p_0123456789abcdef',
  REDIS_URL: 'redis://127.0.0.1:6379',
  SMS_PROVIDER: 'africastalking',
  AT_USERNAME: 'jibu',
  AT_API_KEY: 'atsk_0123456789abcdef',
  ADMIN_TOKEN: STRONG.ADMIN_TOKEN,
  WEBHOOK_SECRET: STRONG.WEBHOOK_SECRET,
  PIN_PEPPER: STRONG.PIN_PEPPER,
};

/** `npm start` as a child process with exactly `env` (plus PATH): its exit code and everything it printed. */
export function startMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return captured(child);
}
