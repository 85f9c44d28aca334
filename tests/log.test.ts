import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, maskPhoneForLog } from '../src/log.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination }) };
}

describe('logging', () => {
  it('never writes secrets, PINs, codes or message texts, and masks phone numbers', () => {
    const { lines, logger } = capture();
    const SENTINELS = ['SENTINEL-TOKEN-9f3a', 'SENTINEL-PIN-4821', 'SENTINEL-TEXT-habari', '+254712345689'];
    logger.info({ token: SENTINELS[0], pin: SENTINELS[1], text: SENTINELS[2], phone: SENTINELS[3] }, 'inbound');
    logger.warn(
      {
        nested: { msg: { from: SENTINELS[3], body: SENTINELS[2] } },
        headers: { authorization: `ApiToken ${SENTINELS[0]}` },
      },
      'nested',
    );
    const out = lines.join('');
    for (const s of SENTINELS) expect(out).not.toContain(s);
    expect(out).toContain('+2547******89');
  });

  it('masks any phone shape and hides very short values entirely', () => {
    expect(maskPhoneForLog('+250788123456')).toBe('+2507******56');
    expect(maskPhoneForLog('12')).toBe('***');
  });
});

describe('logging of non-phone values under phone-like keys', () => {
  it('leaves dates and words readable while still masking numbers', () => {
    const { lines, logger } = capture();
    logger.info({ window: { from: '2026-11-28', to: '+254700000001' } }, 'sync');
    const out = lines.join('');
    expect(out).toContain('"from":"2026-11-28"');
    expect(out).not.toContain('+254700000001');
  });
});
