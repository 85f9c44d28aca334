import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_OUTCOMES, DeploymentSchema, defaultDeployment, loadDeployment } from '../../src/dhis2/deployment.ts';
import { JibuError } from '../../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'jibu-deployment-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problems(path: string): string[] {
  try {
    loadDeployment(path);
  } catch (err) {
    expect(err).toBeInstanceOf(JibuError);
    expect((err as JibuError).code).toBe('JIBU_CONFIG_INVALID');
    return (err as JibuError).detail as string[];
  }
  throw new Error('expected the deployment file to be refused');
}

describe('the deployment file', () => {
  it('is optional: without a file the EIR and Vital Events package UIDs and default rules apply', () => {
    const d = loadDeployment();
    expect(d.immunization).toEqual({
      program: 'SSLpOM0r1U7',
      stage: 's53RFfXA75f',
      birthStage: 'RcbCl5ww8XY',
      attributes: {
        phone: 'pjexi5YaAPa',
        firstName: 'sB1IHYu2xQT',
        surname: 'ENRjVGxVL6l',
        dateOfBirth: 'NI0QRzJvQ0k',
        sex: 'oindugucx72',
        caregiverFirstName: 'ftFBu8mHZ4H',
        caregiverSurname: 'EpbquVl5OD6',
      },
    });
    expect(d.vitalEvents).toMatchObject({
      program: 'FTBBLOT3sO7',
      birthStage: 'OwdV5tSOMSv',
      deathStage: 'SjC6EZvwPKs',
      reasonAttribute: 'ArHk8hosBBh',
    });
    expect(d.reschedule).toEqual({ minDaysAhead: 0, maxDaysAhead: 60 });
    expect(d.reminders).toEqual({ rules: [{ daysBefore: 2 }] });
    expect(d.missedVisits).toEqual({ graceDays: 1 });
    expect(d.deliveryWindow).toEqual({ start: '08:00', end: '19:00' });
    expect(d.aefi.followUp).toBe(true);
    expect(d.sms).toEqual({ segmentBudget: 1, foldAccents: false });
    expect(Object.keys(d.outcomes).sort()).toEqual([
      'died',
      'moved_away',
      'not_found',
      'refused',
      'vaccinated_elsewhere',
      'will_come',
    ]);
    expect(d.timeZone).toBeUndefined();
  });

  it('accepts an empty file or one with only comments', () => {
    expect(loadDeployment(file('empty.yaml', ''))).toEqual(defaultDeployment());
    expect(loadDeployment(file('comments.yaml', '# nothing to change: standard packages\n'))).toEqual(
      defaultDeployment(),
    );
  });

  it('overrides what a country changes and merges outcomes over the built-in ones', () => {
    const d = loadDeployment(
      file(
        'country.yaml',
        [
          'timeZone: Africa/Dar_es_Salaam',
          'immunization:',
          '  attributes:',
          '    phone: KnQryoomh60',
          '    preferredLanguage: Abcdefghij1',
          'reschedule: { maxDaysAhead: 30 }',
          'reminders:',
          '  rules: [{ daysBefore: 3 }, { daysBefore: 1 }]',
          'outcomes:',
          '  refused: { note: outcome.refused_custom, followUp: false }',
          '  travelling: { note: outcome.travelling, reschedule: true }',
        ].join('\n'),
      ),
    );
    expect(d.timeZone).toBe('Africa/Dar_es_Salaam');
    expect(d.immunization.attributes).toMatchObject({
      phone: 'KnQryoomh60',
      preferredLanguage: 'Abcdefghij1',
      firstName: 'sB1IHYu2xQT',
    });
    expect(d.reschedule).toEqual({ minDaysAhead: 0, maxDaysAhead: 30 });
    expect(d.reminders.rules).toEqual([{ daysBefore: 3 }, { daysBefore: 1 }]);
    expect(d.outcomes.refused).toEqual({ note: 'outcome.refused_custom', followUp: false });
    expect(d.outcomes.travelling).toEqual({ note: 'outcome.travelling', reschedule: true });
    expect(d.outcomes.will_come).toEqual(DEFAULT_OUTCOMES.will_come);
  });

  it('lists every problem of a broken file with its path and line', () => {
    const found = problems(
      file(
        'broken.yaml',
        [
          'timeZone: Mars/Olympus_Mons',
          'immunization:',
          '  program: abc',
          '  attributes:',
          '    phone: 12345678901',
          '    nickname: x',
          'reschedule:',
          '  minDaysAhead: 10',
          '  maxDaysAhead: 5',
          'reminders:',
          '  rules:',
          '    - daysBefore: -1',
          'deliveryWindow: { start: "8am" }',
          'outcomes:',
          '  Refused: { note: x }',
          'sms: { segmentBudget: 0 }',
        ].join('\n'),
      ),
    );
    expect(found).toEqual([
      'timeZone (line 1): must be an IANA time zone such as Africa/Nairobi',
      'immunization.program (line 3): must be a DHIS2 UID: 11 letters or digits, starting with a letter',
      'immunization.attributes.phone (line 5): Invalid input: expected string, received number',
      "immunization.attributes (line 6): unknown key 'nickname'",
      'reschedule.minDaysAhead (line 8): minDaysAhead must not be after maxDaysAhead',
      'reminders.rules[0].daysBefore (line 12): Too small: expected number to be >=0',
      'deliveryWindow.start (line 13): must be a time of day as HH:MM (24-hour), e.g. 08:00',
      'outcomes.Refused (line 15): not a valid name: outcome names are lower_snake_case (a-z, 0-9, _)',
      'sms.segmentBudget (line 16): Too small: expected number to be >=1',
    ]);
  });

  it('takes the staff language from the shipped ones (default English) and names them when another is given', () => {
    expect(defaultDeployment().staffLocale).toBe('en');
    expect(loadDeployment(file('french-staff.yaml', 'staffLocale: fr\n')).staffLocale).toBe('fr');
    expect(problems(file('klingon-staff.yaml', 'timeZone: Africa/Kigali\nstaffLocale: tlh\n'))).toEqual([
      'staffLocale (line 2): must be one of the languages Jibu ships: en, fr, pt, sw, rw',
    ]);
  });

  it('files reactions in the AEFI programme only when aefi.program is set, with the AEFI package UIDs as defaults', () => {
    expect(defaultDeployment().aefi.program).toBeUndefined();
    const d = loadDeployment(file('aefi.yaml', 'aefi:\n  program: EZkN8vYZwjR\n'));
    expect(d.aefi).toMatchObject({
      program: 'EZkN8vYZwjR',
      stage: 'so8YZ9J3MeO',
      followUp: true,
      values: { yes: 'true', no: 'false', outcome: 'Unknown' },
      dataElements: {
        vaccineNames: ['uSVcZzSM3zg', 'g9PjywVj2fs', 'OU5klvkk3SM', 'menOXwIFZh5'],
        batchNumbers: ['LNqkAlvGplL', 'b1rSwGRcY5W', 'YBnFoNouH6f', 'BHAfwo6JPDa'],
        onsetDate: 'vNGUuAZA2C2',
        serious: 'fq1c1A3EOX5',
        outcome: 'yRrSDiR5v1M',
      },
    });
    expect(d.aefi.vaccines.K3TcJM1ySQA).toEqual({ name: 'Pentavalent', dose: '1', family: 'penta' });
    expect(d.aefi.reactions.fits).toBe('wCGZpudXuYx');
  });

  it('maps every AEFI data element, and names what is wrong in an AEFI mapping with its line', () => {
    const d = loadDeployment(
      file(
        'aefi-mapped.yaml',
        [
          'aefi:',
          '  program: AefiProg001',
          '  dataElements: { serious: SeriousDe01 }',
          '  reactions: { fever: FeverDe0001 }',
          '  vaccines: { bpBUOvqy1Jn: { name: BCG_VAC, family: bcg } }',
        ].join('\n'),
      ),
    );
    expect(d.aefi.dataElements.serious).toBe('SeriousDe01');
    expect(d.aefi.dataElements.onsetDate).toBe('vNGUuAZA2C2');
    expect(d.aefi.reactions).toEqual({ fever: 'FeverDe0001' });
    expect(Object.keys(d.aefi.vaccines)).toEqual(['bpBUOvqy1Jn']);
    expect(
      problems(
        file(
          'aefi-broken.yaml',
          [
            'aefi:',
            '  program: AEFI',
            '  reactions: { sneezing: FeverDe0001 }',
            '  vaccines: { bpBUOvqy1Jn: { name: BCG, family: flu } }',
          ].join('\n'),
        ),
      ),
    ).toEqual([
      'aefi.program (line 2): must be a DHIS2 UID: 11 letters or digits, starting with a letter',
      "aefi.reactions (line 3): unknown key 'sneezing'",
      expect.stringMatching(/^aefi\.vaccines\.bpBUOvqy1Jn\.family \(line 4\): Invalid option: expected one of "bcg"/),
    ]);
  });

  it('reports YAML syntax errors and a missing file readably', () => {
    expect(problems(file('syntax.yaml', 'immunization:\n  program: [SSLpOM0r1U7\nsms: 1\n'))[0]).toMatch(
      /syntax\.yaml:\d+: /,
    );
    expect(problems(join(dir, 'missing.yaml'))).toEqual([`${join(dir, 'missing.yaml')}: file not found`]);
  });

  it('exports a schema that converts to JSON Schema for editors', () => {
    const schema = z.toJSONSchema(DeploymentSchema, { io: 'input' }) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['immunization', 'vitalEvents', 'reschedule', 'reminders', 'outcomes', 'sms']),
    );
  });
});
