import type { MetaAttribute, MetaDataElement, MetaProgram, MetaStage, Metadata, ValueType } from './model.ts';

/**
 * Package metadata the emulator serves (reference §10.1, §10.2): the WHO Electronic Immunization
 * Registry (EPI_EIR_TRK) and Vital Events Notification (CRVS_VE_TRK) programmes, with their public UIDs,
 * so a Jibu deployment file written for the real packages works unchanged against the emulator.
 */

export const EIR = {
  program: 'SSLpOM0r1U7',
  trackedEntityType: 'MCPQUTHX1Ze',
  birthStage: 'RcbCl5ww8XY',
  immunizationStage: 's53RFfXA75f',
  attributes: {
    systemId: 'KSr2yTdu1AI',
    nationalId: 'Ewi7FUfcHAD',
    firstName: 'sB1IHYu2xQT',
    middleName: 'saFac1TKvwJ',
    surname: 'ENRjVGxVL6l',
    dateOfBirth: 'NI0QRzJvQ0k',
    sex: 'oindugucx72',
    caregiverFirstName: 'ftFBu8mHZ4H',
    caregiverSurname: 'EpbquVl5OD6',
    caregiverId: 'pqM2VmAUQHs',
    phone: 'pjexi5YaAPa',
    phone2: 'KnQryoomh60',
    homeAddress: 'Xhdn49gUd52',
    village: 'xsxMR7crjZ6',
  },
  dataElements: {
    bcg: 'bpBUOvqy1Jn',
    opv0: 'no7SkAxepi7',
    opv1: 'CfPM8lsEMzH',
    opv2: 'sDORmAKh32v',
    opv3: 'nQeUfqPjK5o',
    penta1: 'K3TcJM1ySQA',
    penta2: 'GPOoPDqle3V',
    penta3: 'pxCZNoqDVJC',
    pcv1: 'fmXCCPENnwR',
    pcv2: 'PvHUllrtPiy',
    pcv3: 'B4eJCy6LFLZ',
    rota1: 'nIqQYeSwU9E',
    rota2: 'wYg2gOWSyJG',
    ipv1: 'Fu83xQ4NKuQ',
    measles1: 'g8dMiUOTFla',
    measles2: 'Bxh1xgIY9nA',
    yellowFever: 'mH9watsYzvq',
    vaccinationPlace: 'HdzfEcDLnhX',
    birthWeight: 'WUquHs0Al7h',
    gestationalAge: 'SaCLndgg6On',
    placeOfBirth: 'ABhkInP0wGY',
  },
} as const;

export const VEN = {
  program: 'FTBBLOT3sO7',
  birthStage: 'OwdV5tSOMSv',
  deathStage: 'SjC6EZvwPKs',
  stillbirthStage: 'wTAeBwb4gse',
  attributes: {
    registrationReason: 'ArHk8hosBBh',
    dateOfDeath: 'whdKMBo0pZx',
    dobEstimated: 'Z1rLc1rVHK8',
    secondaryPhone: 'qEedHpgzYyU',
  },
  dataElements: {
    sendNotification: 'noSCyx2btEF',
    deathPlace: 'MAqI45DkhPd',
    deathCause: 'XkvdOAv6d3V',
  },
  /** `ArHk8hosBBh` values. */
  reasons: { birth: '1', stillbirth: '2', death: '3' },
} as const;

export const DEFAULT_CATEGORY_OPTION_COMBO = 'HllvX50cXC0';

function attr(id: string, name: string, valueType: ValueType, extra: Partial<MetaAttribute> = {}): MetaAttribute {
  return { id, name, valueType, ...extra };
}

function de(id: string, name: string, valueType: ValueType): MetaDataElement {
  return { id, name, valueType };
}

/** EIR + VEN metadata, fresh maps for each emulator. */
export function packageMetadata(): Metadata {
  const a = EIR.attributes;
  const attributes: MetaAttribute[] = [
    attr(a.systemId, 'Unique System Identifier (EPI)', 'TEXT', { unique: true, searchable: true }),
    attr(a.nationalId, 'National ID', 'TEXT', { unique: true, searchable: true }),
    attr(a.firstName, 'First name', 'TEXT', { searchable: true }),
    attr(a.middleName, 'Middle name', 'TEXT'),
    attr(a.surname, 'Surname', 'TEXT', { searchable: true }),
    attr(a.dateOfBirth, 'Date of birth', 'DATE', { searchable: true }),
    attr(a.sex, 'Sex', 'TEXT'),
    attr(a.caregiverFirstName, 'Primary contact first name', 'TEXT'),
    attr(a.caregiverSurname, 'Primary contact last name', 'TEXT'),
    attr(a.caregiverId, 'Primary contact ID', 'TEXT'),
    // Not searchable in the package: phone look-ups must stay inside the capture scope (reference §8.2).
    attr(a.phone, 'Primary contact number', 'PHONE_NUMBER'),
    attr(a.phone2, 'Caregiver contact number 2', 'PHONE_NUMBER'),
    attr(a.homeAddress, 'Home address', 'LONG_TEXT'),
    attr(a.village, 'Village/Neighbourhood', 'TEXT'),
    attr(VEN.attributes.registrationReason, 'Registration Reason', 'NUMBER'),
    attr(VEN.attributes.dateOfDeath, 'Date of death', 'DATE'),
    attr(VEN.attributes.dobEstimated, 'Date of birth is estimated', 'TRUE_ONLY'),
    attr(VEN.attributes.secondaryPhone, 'Secondary contact number', 'PHONE_NUMBER'),
  ];
  const d = EIR.dataElements;
  const vaccineNames: Record<string, string> = {
    [d.bcg]: 'BCG 0.05mL',
    [d.opv0]: 'bOPV 0',
    [d.opv1]: 'bOPV 1',
    [d.opv2]: 'bOPV 2',
    [d.opv3]: 'bOPV 3',
    [d.penta1]: 'Pentavalent 1',
    [d.penta2]: 'Pentavalent 2',
    [d.penta3]: 'Pentavalent 3',
    [d.pcv1]: 'PCV 1',
    [d.pcv2]: 'PCV 2',
    [d.pcv3]: 'PCV 3',
    [d.rota1]: 'Rota 1',
    [d.rota2]: 'Rota 2',
    [d.ipv1]: 'IPV 1',
    [d.measles1]: 'Measles 1',
    [d.measles2]: 'Measles 2',
    [d.yellowFever]: 'Yellow fever 1',
  };
  const vaccines = Object.entries(vaccineNames).map(([id, name]) => de(id, name, 'BOOLEAN'));
  const birthSet = [
    de(d.birthWeight, 'Birth weight (g)', 'INTEGER_POSITIVE'),
    de(d.gestationalAge, 'Gestational age (weeks)', 'INTEGER_POSITIVE'),
    de(d.placeOfBirth, 'Place of birth', 'TEXT'),
  ];
  const dataElements: MetaDataElement[] = [
    ...vaccines,
    de(d.vaccinationPlace, 'Vaccination place', 'TEXT'),
    ...birthSet,
    de(VEN.dataElements.sendNotification, 'Send Notification', 'TRUE_ONLY'),
    de(VEN.dataElements.deathPlace, 'Place of death', 'TEXT'),
    de(VEN.dataElements.deathCause, 'Cause of death', 'TEXT'),
  ];
  const stages: MetaStage[] = [
    {
      id: EIR.birthStage,
      name: 'Birth details',
      program: EIR.program,
      repeatable: false,
      dataElements: birthSet.map((x) => x.id),
    },
    {
      id: EIR.immunizationStage,
      name: 'Immunization',
      program: EIR.program,
      repeatable: true,
      dataElements: [...vaccines.map((x) => x.id), d.vaccinationPlace],
    },
    {
      id: VEN.birthStage,
      name: 'Birth Details',
      program: VEN.program,
      repeatable: false,
      dataElements: [VEN.dataElements.sendNotification, ...birthSet.map((x) => x.id)],
    },
    {
      id: VEN.deathStage,
      name: 'Death Details',
      program: VEN.program,
      repeatable: false,
      dataElements: [VEN.dataElements.sendNotification, VEN.dataElements.deathPlace, VEN.dataElements.deathCause],
    },
    {
      id: VEN.stillbirthStage,
      name: 'Stillbirth Details',
      program: VEN.program,
      repeatable: false,
      dataElements: [VEN.dataElements.sendNotification],
    },
  ];
  const eirAttributes = Object.values(a);
  const programs: MetaProgram[] = [
    {
      id: EIR.program,
      name: 'Electronic Immunization Registry',
      trackedEntityType: EIR.trackedEntityType,
      accessLevel: 'PROTECTED',
      minAttributesRequiredToSearch: 2,
      stages: [EIR.birthStage, EIR.immunizationStage],
      attributes: eirAttributes,
    },
    {
      id: VEN.program,
      name: 'Vital Events',
      trackedEntityType: EIR.trackedEntityType,
      accessLevel: 'PROTECTED',
      minAttributesRequiredToSearch: 2,
      stages: [VEN.birthStage, VEN.deathStage, VEN.stillbirthStage],
      attributes: [
        a.firstName,
        a.surname,
        a.dateOfBirth,
        a.sex,
        a.caregiverFirstName,
        a.caregiverSurname,
        a.phone,
        ...Object.values(VEN.attributes),
      ],
    },
  ];
  return {
    programs: new Map(programs.map((p) => [p.id, p])),
    stages: new Map(stages.map((s) => [s.id, s])),
    attributes: new Map(attributes.map((x) => [x.id, x])),
    dataElements: new Map(dataElements.map((x) => [x.id, x])),
    trackedEntityTypes: new Map([[EIR.trackedEntityType, { id: EIR.trackedEntityType, name: 'Person' }]]),
    defaultAttributeOptionCombo: DEFAULT_CATEGORY_OPTION_COMBO,
  };
}
