import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDhis2Client } from '../../src/dhis2/client.ts';
import { EIR, type Emulator, type ListeningEmulator } from '../../src/emulator/index.ts';
import { Dhis2TransportError } from '../../src/dhis2/errors.ts';
import { eventUpdate } from '../../src/dhis2/payloads.ts';
import { newUid } from '../../src/dhis2/uid.ts';
import { emulator, PHONES, scheduledEvent } from './helpers.ts';

describe('the emulator over real HTTP', () => {
  let emu: Emulator;
  let server: ListeningEmulator;

  beforeAll(async () => {
    emu = emulator('2.42');
    server = await emu.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await server.close();
  });

  it('serves the client through the global fetch: version, a phone look-up and a synchronous import', async () => {
    const client = createDhis2Client({ baseUrl: server.url, auth: { token: emu.credentials.token }, timeoutMs: 5000 });
    expect((await client.version()).raw).toBe('2.42.5');
    const kids = await client.trackedEntities({
      program: EIR.program,
      orgUnitMode: 'CAPTURE',
      filters: [{ attribute: EIR.attributes.phone, op: 'eq', value: PHONES.twoDue }],
      fields: 'trackedEntity',
    });
    expect(kids.items).toHaveLength(2);
    const target = scheduledEvent(emu, PHONES.oneDue, 'Neema').event;
    const event = (await client.event(target))!;
    const result = await client.importTracker(
      { events: [eventUpdate(event, { scheduledAt: '2025-03-12' }, [{ note: newUid(), value: 'Moved by SMS' }])] },
      { importStrategy: 'UPDATE' },
    );
    expect(result.status).toBe('OK');
    expect(emu.state.notesOf(target)).toHaveLength(1);
  });

  it('answers 401 with a WWW-Authenticate header on the wire', async () => {
    const res = await fetch(`${server.url}/api/me`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="DHIS2"');
  });

  it('drops connections while down, which the client reports as a transport failure', async () => {
    const client = createDhis2Client({
      baseUrl: server.url,
      auth: { username: 'admin', password: 'district' },
      timeoutMs: 5000,
    });
    emu.faults.down = true;
    try {
      await expect(client.systemInfo()).rejects.toBeInstanceOf(Dhis2TransportError);
    } finally {
      emu.faults.down = false;
    }
    expect((await client.systemInfo()).version).toBe('2.42.5');
  });

  it('works mounted under a context path behind a JSON body parser', async () => {
    const outer = express();
    outer.use(express.json());
    outer.use('/dhis', emu.app);
    const mounted = await new Promise<{ url: string; close: () => void }>((resolve) => {
      const s = outer.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        resolve({ url: `http://127.0.0.1:${port}/dhis`, close: () => s.close() });
      });
    });
    try {
      const client = createDhis2Client({
        baseUrl: mounted.url,
        auth: { token: emu.credentials.token },
        timeoutMs: 5000,
      });
      expect((await client.systemInfo()).contextPath).toBe(mounted.url);
      const before = scheduledEvent(emu, PHONES.dueToday, 'Baraka');
      const event = (await client.event(before.event))!;
      expect(
        (await client.importTracker({ events: [eventUpdate(event, { followUp: true })] }, { importStrategy: 'UPDATE' }))
          .status,
      ).toBe('OK');
      expect(emu.state.events.get(before.event)!.followUp).toBe(true);
    } finally {
      mounted.close();
    }
  });
});
