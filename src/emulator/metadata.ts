import type {
  MetaAttribute,
  MetaDataElement,
  MetaProgram,
  MetaStage,
  MetaTrackedEntityType,
  Metadata,
  ValueType,
} from './model.ts';

/**
 * Package metadata the emulator serves (docs/dhis2.md#package-metadata-jibu-defaults-to): the WHO Electronic
 * Immunization
 * Registry (EPI_EIR_TRK), Vital Events Notification (CRVS_VE_TRK) and AEFI (AEFI_TRACKER) programmes, with their public UIDs,
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

/**
 * The WHO AEFI tracker package (AEFI_TRACKER v1.1.2): programme, its three non-repeatable stages and the
 * data elements Jibu writes on the AEFI stage. Its tracked entity type is Person, shared with the EIR.
 */
export const AEFI = {
  program: 'EZkN8vYZwjR',
  aefiStage: 'so8YZ9J3MeO',
  firstDecisionStage: 'Noldaaz2TLs',
  nationalStage: 'Y4v9hBo2Xst',
  dataElements: {
    vaccineNames: ['uSVcZzSM3zg', 'g9PjywVj2fs', 'OU5klvkk3SM', 'menOXwIFZh5'],
    vaccineDoses: ['LIyV4t7eCfZ', 'E3F414izniN', 'WlE0K4xCc14', 'Aya8C25DXHe'],
    vaccinationDates: ['dOkuCjpD978', 'VrzEutEnzSJ', 'f4WCAVwjHz0', 'H3TKHMFIN6V'],
    batchNumbers: ['LNqkAlvGplL', 'b1rSwGRcY5W', 'YBnFoNouH6f', 'BHAfwo6JPDa'],
    onsetDate: 'vNGUuAZA2C2',
    serious: 'fq1c1A3EOX5',
    outcome: 'yRrSDiR5v1M',
    fever: 'rzhHSqK3lQq',
    injectionSiteSoreness: 'P4oSprWWqrn',
    skinRash: 'xgqzqv0p2Us',
    diarrhoea: 'NAiZTRCHRWL',
    persistentCrying: 'GTyK3p976de',
    seizures: 'wCGZpudXuYx',
    severeLocalReaction: 'UNmEidE6M9K',
    anaphylaxis: 'MkIgCrCTFyE',
    otherReaction: 'tWcNgbkOETR',
    otherReactionText: 'iTm5wvq16iq',
    reporter: 'uZ9c4fKXuNS',
    reporterPhone: 'iLaon1495vY',
    comments: 'LaMvzTltCOP',
    investigationNeeded: 'b85dZAIu3NK',
    nationalReviewDate: 'cWMUoQEuvtR',
    finalClassification: 'DpgoIsq65SW',
  },
  attributes: { caseId: 'h5FuguPFF2j' },
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
    // Not searchable in the package: phone look-ups must stay inside the capture scope
    // (docs/dhis2.md#users-and-phone-numbers).
    attr(a.phone, 'Primary contact number', 'PHONE_NUMBER'),
    attr(a.phone2, 'Caregiver contact number 2', 'PHONE_NUMBER'),
    attr(a.homeAddress, 'Home address', 'LONG_TEXT'),
    attr(a.village, 'Village/Neighbourhood', 'TEXT'),
    attr(VEN.attributes.registrationReason, 'Registration Reason', 'NUMBER'),
    attr(VEN.attributes.dateOfDeath, 'Date of death', 'DATE'),
    attr(VEN.attributes.dobEstimated, 'Date of birth is estimated', 'TRUE_ONLY'),
    attr(VEN.attributes.secondaryPhone, 'Secondary contact number', 'PHONE_NUMBER'),
    attr(AEFI.attributes.caseId, 'AEFI Case ID', 'TEXT', { searchable: true }),
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
  const x = AEFI.dataElements;
  const aefiSet = [
    ...x.vaccineNames.map((id, i) => de(id, `AEFI - Vaccine ${i + 1} name`, 'TEXT')),
    ...x.vaccineDoses.map((id, i) => de(id, `AEFI - Vaccine ${i + 1} dose`, 'INTEGER_ZERO_OR_POSITIVE')),
    ...x.vaccinationDates.map((id, i) => de(id, `AEFI - Vaccination ${i + 1} date`, 'DATE')),
    ...x.batchNumbers.map((id, i) => de(id, `AEFI - Batch/lot number (Vaccine ${i + 1})`, 'TEXT')),
    de(x.onsetDate, 'AEFI - AEFI start date', 'DATE'),
    de(x.serious, 'AEFI - Severe event reported', 'BOOLEAN'),
    de(x.outcome, 'AEFI - AEFI outcome', 'TEXT'),
    de(x.fever, 'AEFI - Fever', 'TRUE_ONLY'),
    de(x.injectionSiteSoreness, 'AEFI - Injection site soreness', 'TRUE_ONLY'),
    de(x.skinRash, 'AEFI - Skin rash', 'TRUE_ONLY'),
    de(x.diarrhoea, 'AEFI - Diarrhoea', 'TRUE_ONLY'),
    de(x.persistentCrying, 'AEFI - Persistent crying', 'TRUE_ONLY'),
    de(x.seizures, 'AEFI - Seizures', 'TRUE_ONLY'),
    de(x.severeLocalReaction, 'AEFI - Severe local reaction', 'TRUE_ONLY'),
    de(x.anaphylaxis, 'AEFI - Anaphylaxis', 'TRUE_ONLY'),
    de(x.otherReaction, 'AEFI - Other (Adverse event)', 'TRUE_ONLY'),
    de(x.otherReactionText, 'AEFI - Specify other (Adverse event)', 'LONG_TEXT'),
    de(x.reporter, 'AEFI - Reporter of AEFI case', 'TEXT'),
    de(x.reporterPhone, 'AEFI - Contact number', 'PHONE_NUMBER'),
    de(x.comments, 'AEFI - Comments', 'LONG_TEXT'),
  ];
  const firstDecisionSet = [de(x.investigationNeeded, 'AEFI - Investigation needed', 'BOOLEAN')];
  const nationalSet = [
    de(x.nationalReviewDate, 'AEFI - Date when seen for approval at national level', 'DATE'),
    de(x.finalClassification, 'AEFI - Final causality assessment classification', 'TEXT'),
  ];
  const dataElements: MetaDataElement[] = [
    ...aefiSet,
    ...firstDecisionSet,
    ...nationalSet,
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
    // Each adverse event is one enrollment: every stage happens once (E1039 for a second event).
    {
      id: AEFI.aefiStage,
      name: 'AEFI',
      program: AEFI.program,
      repeatable: false,
      dataElements: aefiSet.map((d) => d.id),
    },
    {
      id: AEFI.firstDecisionStage,
      name: 'First decision making level',
      program: AEFI.program,
      repeatable: false,
      dataElements: firstDecisionSet.map((d) => d.id),
    },
    {
      id: AEFI.nationalStage,
      name: 'National level',
      program: AEFI.program,
      repeatable: false,
      dataElements: nationalSet.map((d) => d.id),
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
      maxTeiCountToReturn: 0,
      stages: [EIR.birthStage, EIR.immunizationStage],
      attributes: eirAttributes,
    },
    {
      id: VEN.program,
      name: 'Vital Events',
      trackedEntityType: EIR.trackedEntityType,
      accessLevel: 'PROTECTED',
      minAttributesRequiredToSearch: 2,
      maxTeiCountToReturn: 20,
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
    {
      id: AEFI.program,
      name: 'Adverse events following immunization (AEFI)',
      trackedEntityType: EIR.trackedEntityType,
      accessLevel: 'PROTECTED',
      minAttributesRequiredToSearch: 1,
      maxTeiCountToReturn: 0,
      stages: [AEFI.aefiStage, AEFI.firstDecisionStage, AEFI.nationalStage],
      attributes: [
        AEFI.attributes.caseId,
        a.systemId,
        a.firstName,
        a.surname,
        a.dateOfBirth,
        a.sex,
        a.homeAddress,
        a.phone,
      ],
    },
  ];
  // Person: names, date of birth and the identifiers may be searched registry-wide; the phone may not
  // (as in the EIR package), and at most 50 matches are listed.
  const person: MetaTrackedEntityType = {
    id: EIR.trackedEntityType,
    name: 'Person',
    minAttributesRequiredToSearch: 2,
    maxTeiCountToReturn: 50,
    attributes: [a.systemId, a.nationalId, a.firstName, a.surname, a.dateOfBirth, a.sex, a.phone].map((id) => ({
      id,
      searchable: attributes.find((x) => x.id === id)?.searchable === true,
    })),
  };
  return {
    programs: new Map(programs.map((p) => [p.id, p])),
    stages: new Map(stages.map((s) => [s.id, s])),
    attributes: new Map(attributes.map((x) => [x.id, x])),
    dataElements: new Map(dataElements.map((x) => [x.id, x])),
    trackedEntityTypes: new Map([[EIR.trackedEntityType, person]]),
    defaultAttributeOptionCombo: DEFAULT_CATEGORY_OPTION_COMBO,
  };
}
