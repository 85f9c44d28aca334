import { uidFromRandom } from '../dhis2/uid.ts';
import { makeToken } from './auth.ts';
import { EIR, VEN } from './metadata.ts';
import type { EmulatorState, EmulatorUser, StoredDataValue, StoredEvent, UserRef } from './model.ts';
import { ServerTime } from './time.ts';

/**
 * Demo data for the emulator: an org unit tree, case workers, an admin, and children on the EIR
 * programme whose appointments are placed relative to "today" (the injected clock, server time zone),
 * so the demo is always fresh. Deterministic for a seed. The named scenarios in {@link DEMO} are what
 * tests, the README and the simulator refer to.
 */

export interface DemoSeedOptions {
  /** Children on the EIR programme, named scenarios included. Default 300 (listings need paging). */
  children?: number;
  /** PRNG seed. Default 20240601. */
  seed?: number;
  /**
   * Birth details and completed past visits with their vaccines. Default: on up to 5 000 children, off
   * above, so 100 000-child benches hold one scheduled event per child and stay small.
   */
  history?: boolean;
}

const OU = {
  country: 'JbKenya0001',
  kilifi: 'JbDstKlf001',
  kwale: 'JbDstKwl001',
  mtwapa: 'JbFacMtw001',
  rabai: 'JbFacRbi001',
  msambweni: 'JbFacMsb001',
  tiwi: 'JbFacTiw001',
  kidutani: 'JbVilKdt001',
  jumba: 'JbVilJmb001',
  majengo: 'JbVilMjg001',
  mgamboni: 'JbVilMgm001',
  buni: 'JbVilBun001',
  mwele: 'JbVilMwl001',
  bomani: 'JbVilBmn001',
  mkunguni: 'JbVilMkg001',
  vidziani: 'JbVilVdz001',
  tiwiKati: 'JbVilTwk001',
  mwaroni: 'JbVilMwr001',
  magaoni: 'JbVilMgn001',
} as const;

const ORG_UNIT_TREE: Array<{ id: string; name: string; parent?: string; code?: string }> = [
  { id: OU.country, name: 'Kenya (demo)', code: 'KE' },
  { id: OU.kilifi, name: 'Kilifi', parent: OU.country },
  { id: OU.kwale, name: 'Kwale', parent: OU.country },
  { id: OU.mtwapa, name: 'Mtwapa Health Centre', parent: OU.kilifi },
  { id: OU.rabai, name: 'Rabai Dispensary', parent: OU.kilifi },
  { id: OU.msambweni, name: 'Msambweni Health Centre', parent: OU.kwale },
  { id: OU.tiwi, name: 'Tiwi Dispensary', parent: OU.kwale },
  { id: OU.kidutani, name: 'Kidutani', parent: OU.mtwapa },
  { id: OU.jumba, name: 'Jumba', parent: OU.mtwapa },
  { id: OU.majengo, name: 'Majengo', parent: OU.mtwapa },
  { id: OU.mgamboni, name: 'Mgamboni', parent: OU.rabai },
  { id: OU.buni, name: 'Buni', parent: OU.rabai },
  { id: OU.mwele, name: 'Mwele', parent: OU.rabai },
  { id: OU.bomani, name: 'Bomani', parent: OU.msambweni },
  { id: OU.mkunguni, name: 'Mkunguni', parent: OU.msambweni },
  { id: OU.vidziani, name: 'Vidziani', parent: OU.msambweni },
  { id: OU.tiwiKati, name: 'Tiwi Kati', parent: OU.tiwi },
  { id: OU.mwaroni, name: 'Mwaroni', parent: OU.tiwi },
  { id: OU.magaoni, name: 'Magaoni', parent: OU.tiwi },
];

const VILLAGES = [
  OU.kidutani,
  OU.jumba,
  OU.majengo,
  OU.mgamboni,
  OU.buni,
  OU.mwele,
  OU.bomani,
  OU.mkunguni,
  OU.vidziani,
  OU.tiwiKati,
  OU.mwaroni,
  OU.magaoni,
];

/** Named demo data: phones to try and what each demonstrates. Dates are relative to the emulator's today. */
export const DEMO = {
  orgUnits: OU,
  admin: { id: 'JbUsrAdmin1', username: 'admin', password: 'district' },
  /** Personal access token of `admin` (V1 format, accepted by every version). */
  token: makeToken('v1', 'JibuDemoTokenForTheEmulator00001'),
  /** The same account with a V2 (`d2p_`) token, the 2.41+ default format. */
  tokenV2: makeToken('v2', 'JibuDemoTokenForTheEmulatorVersionTwo0000001'),
  caregivers: {
    twoChildrenDueInTwoDays: {
      phone: '+254700000001',
      name: 'Mwanaisha Salim',
      children: ['Amina', 'Juma'],
      orgUnit: OU.kidutani,
      demonstrates: 'two children due in 2 days on one phone: the reminder reply asks which child',
    },
    oneChildDueInTwoDays: {
      phone: '+254700000002',
      name: 'Grace Wanjiru',
      children: ['Neema'],
      orgUnit: OU.jumba,
      demonstrates: 'one child due in 2 days: reply 1 to confirm, 2 to reschedule',
    },
    dueToday: {
      phone: '+254700000003',
      name: 'Esther Kamau',
      children: ['Baraka'],
      orgUnit: OU.majengo,
      demonstrates: 'a visit due today',
    },
    missedYesterday: {
      phone: '+254700000004',
      name: 'Fatuma Otieno',
      children: ['Imani'],
      orgUnit: OU.kidutani,
      demonstrates: 'missed a visit yesterday: gets the missed-visit message',
    },
    missedSeveralDays: {
      phone: '+254700000005',
      name: 'Mercy Achieng',
      children: ['Zuri'],
      orgUnit: OU.kidutani,
      demonstrates: 'missed a visit 6 days ago: a defaulter for the Kidutani case worker',
    },
    visitedYesterday: {
      phone: '+254700000006',
      name: 'Halima Mwangi',
      children: ['Tumaini'],
      orgUnit: OU.jumba,
      demonstrates: 'a visit completed yesterday (vaccines recorded) and the next one in 27 days: AEFI report target',
    },
    threeChildren: {
      phone: '+254700000007',
      name: 'Rehema Bakari',
      children: ['Hamisi', 'Saida', 'Omari'],
      orgUnit: OU.bomani,
      demonstrates: 'three children: one due in 2 days, one missed 3 days ago, one fully vaccinated',
    },
    missedInKwale: {
      phone: '+254700000008',
      name: 'Zainabu Mohamed',
      children: ['Bahati'],
      orgUnit: OU.bomani,
      demonstrates: 'missed a visit 10 days ago, in Kwale',
    },
    newborn: {
      phone: '+254700000009',
      name: 'Joyce Njeri',
      children: ['Wema'],
      orgUnit: OU.tiwiKati,
      demonstrates: 'a 2-day-old child with a birth notified on Vital Events, first visit in 40 days',
    },
  },
  caseWorkers: {
    kidutani: {
      phone: '+254711000001',
      id: 'JbUsrCw0001',
      username: 'cw.zawadi',
      name: 'Zawadi Mwangi',
      orgUnit: OU.kidutani,
      demonstrates: 'village case worker: defaulters Imani and Zuri',
    },
    mtwapa: {
      phone: '+254711000002',
      id: 'JbUsrCw0002',
      username: 'cw.baraka',
      name: 'Baraka Otieno',
      orgUnit: OU.mtwapa,
      demonstrates: 'facility case worker: all villages of Mtwapa HC',
    },
    bomani: {
      phone: '+254711000003',
      id: 'JbUsrCw0003',
      username: 'cw.salma',
      name: 'Salma Juma',
      orgUnit: OU.bomani,
      demonstrates: 'village case worker in Kwale: defaulters Saida and Bahati',
    },
    tiwi: {
      phone: '+254711000004',
      id: 'JbUsrCw0004',
      username: 'cw.peter',
      name: 'Peter Kahindi',
      orgUnit: OU.tiwi,
      demonstrates: 'facility case worker in Kwale',
    },
    disabled: {
      phone: '+254711000005',
      id: 'JbUsrCw0005',
      username: 'cw.former',
      name: 'Former Worker',
      orgUnit: OU.buni,
      demonstrates: 'a disabled DHIS2 account: must not be recognised',
    },
  },
  /** A phone with no DHIS2 record at all. */
  unknownPhone: '+254700000099',
  /** Generated caregivers have `+254701` followed by six digits (`+254701000000`, `+254701000001`, …). */
  generatedPhonePrefix: '+254701',
} as const;

/** Visits of the schedule: age in days and the vaccines given. */
const SCHEDULE: Array<{ age: number; vaccines: string[] }> = [
  { age: 0, vaccines: [EIR.dataElements.bcg, EIR.dataElements.opv0] },
  {
    age: 42,
    vaccines: [EIR.dataElements.opv1, EIR.dataElements.penta1, EIR.dataElements.pcv1, EIR.dataElements.rota1],
  },
  {
    age: 70,
    vaccines: [EIR.dataElements.opv2, EIR.dataElements.penta2, EIR.dataElements.pcv2, EIR.dataElements.rota2],
  },
  { age: 98, vaccines: [EIR.dataElements.opv3, EIR.dataElements.penta3, EIR.dataElements.pcv3, EIR.dataElements.ipv1] },
  { age: 274, vaccines: [EIR.dataElements.measles1, EIR.dataElements.yellowFever] },
  { age: 548, vaccines: [EIR.dataElements.measles2] },
];

const FEMALE = [
  'Amina',
  'Neema',
  'Imani',
  'Zuri',
  'Saida',
  'Wema',
  'Aisha',
  'Faraja',
  'Nuru',
  'Subira',
  'Upendo',
  'Zawadi',
  'Asha',
  'Mwanaidi',
  'Rehema',
  'Pendo',
  'Furaha',
  'Sharifa',
  'Tatu',
  'Wanjiku',
];
const MALE = [
  'Juma',
  'Baraka',
  'Tumaini',
  'Hamisi',
  'Omari',
  'Bahati',
  'Jabari',
  'Kato',
  'Musa',
  'Said',
  'Bakari',
  'Kazungu',
  'Charo',
  'Katana',
  'Ali',
  'Rashidi',
  'Otieno',
  'Kamau',
  'Mwinyi',
  'Hassani',
];
const SURNAMES = [
  'Salim',
  'Wanjiru',
  'Kamau',
  'Otieno',
  'Achieng',
  'Mwangi',
  'Bakari',
  'Mohamed',
  'Njeri',
  'Kahindi',
  'Karisa',
  'Baya',
  'Mwamburi',
  'Hamisi',
  'Chengo',
  'Kitsao',
  'Ngala',
  'Masha',
  'Tsuma',
  'Mwadime',
];
const CAREGIVERS = [
  'Mwanaisha',
  'Grace',
  'Esther',
  'Fatuma',
  'Mercy',
  'Halima',
  'Rehema',
  'Zainabu',
  'Joyce',
  'Agnes',
  'Mary',
  'Khadija',
  'Riziki',
  'Dama',
  'Sidi',
  'Kadzo',
  'Mapenzi',
  'Eunice',
  'Lucy',
  'Mwanajuma',
];

/** mulberry32: small, fast, good enough for demo data. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface ChildSpec {
  firstName: string;
  surname: string;
  sex: 'Female' | 'Male';
  ageDays: number;
  /** Days from today of the next scheduled Immunization visit; null for none (fully vaccinated). */
  next: number | null;
  /** The latest completed visit happened this many days from today (negative), instead of on schedule. */
  lastVisit?: number;
  vitalBirth?: boolean;
}

interface CaregiverSpec {
  phone: string;
  firstName: string;
  surname: string;
  orgUnit: string;
  children: ChildSpec[];
}

const NAMED: CaregiverSpec[] = [
  {
    phone: '+254700000001',
    firstName: 'Mwanaisha',
    surname: 'Salim',
    orgUnit: OU.kidutani,
    children: [
      { firstName: 'Amina', surname: 'Salim', sex: 'Female', ageDays: 68, next: 2 },
      { firstName: 'Juma', surname: 'Salim', sex: 'Male', ageDays: 272, next: 2 },
    ],
  },
  {
    phone: '+254700000002',
    firstName: 'Grace',
    surname: 'Wanjiru',
    orgUnit: OU.jumba,
    children: [{ firstName: 'Neema', surname: 'Wanjiru', sex: 'Female', ageDays: 40, next: 2 }],
  },
  {
    phone: '+254700000003',
    firstName: 'Esther',
    surname: 'Kamau',
    orgUnit: OU.majengo,
    children: [{ firstName: 'Baraka', surname: 'Kamau', sex: 'Male', ageDays: 98, next: 0 }],
  },
  {
    phone: '+254700000004',
    firstName: 'Fatuma',
    surname: 'Otieno',
    orgUnit: OU.kidutani,
    children: [{ firstName: 'Imani', surname: 'Otieno', sex: 'Female', ageDays: 71, next: -1 }],
  },
  {
    phone: '+254700000005',
    firstName: 'Mercy',
    surname: 'Achieng',
    orgUnit: OU.kidutani,
    children: [{ firstName: 'Zuri', surname: 'Achieng', sex: 'Female', ageDays: 104, next: -6 }],
  },
  {
    phone: '+254700000006',
    firstName: 'Halima',
    surname: 'Mwangi',
    orgUnit: OU.jumba,
    children: [{ firstName: 'Tumaini', surname: 'Mwangi', sex: 'Male', ageDays: 43, next: 27, lastVisit: -1 }],
  },
  {
    phone: '+254700000007',
    firstName: 'Rehema',
    surname: 'Bakari',
    orgUnit: OU.bomani,
    children: [
      { firstName: 'Hamisi', surname: 'Bakari', sex: 'Male', ageDays: 40, next: 2 },
      { firstName: 'Saida', surname: 'Bakari', sex: 'Female', ageDays: 270, next: -3 },
      { firstName: 'Omari', surname: 'Bakari', sex: 'Male', ageDays: 640, next: null },
    ],
  },
  {
    phone: '+254700000008',
    firstName: 'Zainabu',
    surname: 'Mohamed',
    orgUnit: OU.bomani,
    children: [{ firstName: 'Bahati', surname: 'Mohamed', sex: 'Male', ageDays: 290, next: -10 }],
  },
  {
    phone: '+254700000009',
    firstName: 'Joyce',
    surname: 'Njeri',
    orgUnit: OU.tiwiKati,
    children: [{ firstName: 'Wema', surname: 'Njeri', sex: 'Female', ageDays: 2, next: 40, vitalBirth: true }],
  },
];

/** The tree of {@link DEMO.orgUnits}; metadata, so it is there even without demo people. */
export function seedOrgUnits(state: EmulatorState): void {
  for (const ou of ORG_UNIT_TREE) state.addOrgUnit({ ...ou, openingDate: '2010-01-01' });
}

/** `admin`/`district` with both demo tokens. */
export function seedAdmin(state: EmulatorState): EmulatorUser {
  const admin: EmulatorUser = {
    id: DEMO.admin.id,
    username: DEMO.admin.username,
    password: DEMO.admin.password,
    firstName: 'System',
    surname: 'Administrator',
    email: 'admin@example.org',
    authorities: ['ALL'],
    organisationUnits: [OU.country],
    teiSearchOrganisationUnits: [OU.country],
    dataViewOrganisationUnits: [OU.country],
    disabled: false,
  };
  state.addUser(admin, DEMO.token);
  state.tokens.set(DEMO.tokenV2, admin.id);
  return admin;
}

const CASE_WORKER_AUTHORITIES = ['M_dhis-web-capture', 'F_TRACKED_ENTITY_INSTANCE_SEARCH', 'F_UNCOMPLETE_EVENT'];

/**
 * Case workers, children, enrollments and events relative to `today` (`YYYY-MM-DD`, server time zone).
 */
export function seedDemo(state: EmulatorState, time: ServerTime, today: string, opts: DemoSeedOptions = {}): void {
  const total = opts.children ?? 300;
  const history = opts.history ?? total <= 5000;
  const random = prng(opts.seed ?? 20240601);
  const uid = () => uidFromRandom(random);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const pickOne = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const admin = state.users.get(DEMO.admin.id);
  const adminRef: UserRef | undefined = admin
    ? { uid: admin.id, username: admin.username, firstName: admin.firstName, surname: admin.surname }
    : undefined;
  const storedBy = admin?.username ?? 'admin';
  const day = (offset: number) => ServerTime.addDays(today, offset);
  const at = (date: string, hour = 0) => time.startOfDay(date) + hour * 3_600_000;

  for (const cw of Object.values(DEMO.caseWorkers)) {
    const [firstName = '', surname = ''] = cw.name.split(' ');
    state.addUser({
      id: cw.id,
      username: cw.username,
      password: 'district',
      firstName,
      surname,
      phoneNumber: cw.phone,
      authorities: CASE_WORKER_AUTHORITIES,
      organisationUnits: [cw.orgUnit],
      teiSearchOrganisationUnits: [cw.orgUnit],
      dataViewOrganisationUnits: [cw.orgUnit],
      disabled: cw.username === DEMO.caseWorkers.disabled.username,
    });
  }

  let systemIdCounter = 1_000_000;
  const addChild = (caregiver: CaregiverSpec, child: ChildSpec, withHistory: boolean) => {
    const dob = day(-child.ageDays);
    const registered = at(dob, 9);
    const te = uid();
    state.addTrackedEntity({
      trackedEntity: te,
      trackedEntityType: EIR.trackedEntityType,
      orgUnit: caregiver.orgUnit,
      attributes: {
        [EIR.attributes.systemId]: `EPI${systemIdCounter++}`,
        [EIR.attributes.firstName]: child.firstName,
        [EIR.attributes.surname]: child.surname,
        [EIR.attributes.dateOfBirth]: dob,
        [EIR.attributes.sex]: child.sex,
        [EIR.attributes.caregiverFirstName]: caregiver.firstName,
        [EIR.attributes.caregiverSurname]: caregiver.surname,
        [EIR.attributes.phone]: caregiver.phone,
        [EIR.attributes.village]: state.orgUnits.get(caregiver.orgUnit)?.name ?? '',
      },
      inactive: false,
      deleted: false,
      potentialDuplicate: false,
      geometry: undefined,
      storedBy,
      createdAt: registered,
      updatedAt: registered,
      createdAtClient: undefined,
      updatedAtClient: undefined,
    });
    const enrollment = uid();
    state.addEnrollment({
      enrollment,
      trackedEntity: te,
      program: EIR.program,
      status: 'ACTIVE',
      orgUnit: caregiver.orgUnit,
      enrolledAt: at(dob),
      occurredAt: at(dob),
      completedAt: undefined,
      completedBy: undefined,
      followUp: false,
      deleted: false,
      geometry: undefined,
      storedBy,
      createdAt: registered,
      updatedAt: registered,
      createdAtClient: undefined,
      updatedAtClient: undefined,
      notes: undefined,
    });
    const event = (
      stage: string,
      fields: Partial<StoredEvent> & Pick<StoredEvent, 'status' | 'createdAt' | 'updatedAt'>,
    ) =>
      state.addEvent({
        event: uid(),
        program: EIR.program,
        programStage: stage,
        enrollment,
        trackedEntity: te,
        orgUnit: caregiver.orgUnit,
        occurredAt: undefined,
        scheduledAt: undefined,
        completedAt: undefined,
        completedBy: undefined,
        followUp: false,
        deleted: false,
        attributeOptionCombo: state.metadata.defaultAttributeOptionCombo,
        geometry: undefined,
        assignedUser: undefined,
        storedBy,
        createdAtClient: undefined,
        updatedAtClient: undefined,
        createdBy: adminRef,
        updatedBy: adminRef,
        dataValues: undefined,
        notes: undefined,
        ...fields,
      });
    let lastChange = registered;
    if (withHistory) {
      event(EIR.birthStage, {
        status: 'COMPLETED',
        occurredAt: at(dob),
        completedAt: registered,
        completedBy: storedBy,
        createdAt: registered,
        updatedAt: registered,
        dataValues: [dv(EIR.dataElements.birthWeight, String(int(2400, 4200)), registered, storedBy)],
      });
      // Visits before the next appointment are done; the next one is the scheduled (or missed) event.
      const nextAge = child.next === null ? Infinity : child.ageDays + child.next;
      const done = SCHEDULE.filter((v) => v.age <= child.ageDays && v.age < nextAge - 3);
      done.forEach((visit, i) => {
        const isLast = i === done.length - 1;
        const date =
          isLast && child.lastVisit !== undefined
            ? day(child.lastVisit)
            : ServerTime.addDays(dob, visit.age + int(0, 2));
        const when = Math.min(at(date, 10), time.startOfDay(day(1)) - 1);
        event(EIR.immunizationStage, {
          status: 'COMPLETED',
          occurredAt: at(date),
          scheduledAt: at(ServerTime.addDays(dob, visit.age)),
          completedAt: when,
          completedBy: storedBy,
          createdAt: registered,
          updatedAt: when,
          dataValues: [
            ...visit.vaccines.map((d) => dv(d, 'true', when, storedBy)),
            dv(EIR.dataElements.vaccinationPlace, state.orgUnits.get(caregiver.orgUnit)?.name ?? '', when, storedBy),
          ],
        });
        lastChange = when;
      });
    }
    if (child.next !== null) {
      event(EIR.immunizationStage, {
        status: 'SCHEDULE',
        scheduledAt: at(day(child.next)),
        createdAt: lastChange,
        updatedAt: lastChange,
      });
    }
    if (child.vitalBirth) {
      const ven = uid();
      state.addEnrollment({
        enrollment: ven,
        trackedEntity: te,
        program: VEN.program,
        status: 'COMPLETED',
        orgUnit: caregiver.orgUnit,
        enrolledAt: at(dob),
        occurredAt: at(dob),
        completedAt: registered,
        completedBy: storedBy,
        followUp: false,
        deleted: false,
        geometry: undefined,
        storedBy,
        createdAt: registered,
        updatedAt: registered,
        createdAtClient: undefined,
        updatedAtClient: undefined,
        notes: undefined,
      });
      state.trackedEntities.get(te)!.attributes[VEN.attributes.registrationReason] = VEN.reasons.birth;
      state.addEvent({
        event: uid(),
        program: VEN.program,
        programStage: VEN.birthStage,
        enrollment: ven,
        trackedEntity: te,
        orgUnit: caregiver.orgUnit,
        status: 'COMPLETED',
        occurredAt: at(dob),
        scheduledAt: undefined,
        completedAt: registered,
        completedBy: storedBy,
        followUp: false,
        deleted: false,
        attributeOptionCombo: state.metadata.defaultAttributeOptionCombo,
        geometry: undefined,
        assignedUser: undefined,
        storedBy,
        createdAt: registered,
        updatedAt: registered,
        createdAtClient: undefined,
        updatedAtClient: undefined,
        createdBy: adminRef,
        updatedBy: adminRef,
        dataValues: [dv(VEN.dataElements.sendNotification, 'true', registered, storedBy)],
        notes: undefined,
      });
    }
  };

  let count = 0;
  for (const caregiver of NAMED) {
    for (const child of caregiver.children) {
      if (count >= total) return;
      addChild(caregiver, child, true);
      count++;
    }
  }
  for (let caregiverIndex = 0; count < total; caregiverIndex++) {
    const surname = pickOne(SURNAMES);
    const caregiver: CaregiverSpec = {
      phone: `+2547${String(1_000_000 + caregiverIndex).padStart(8, '0')}`,
      firstName: pickOne(CAREGIVERS),
      surname,
      orgUnit: pickOne(VILLAGES),
      children: [],
    };
    const r = random();
    const siblings = r < 0.6 ? 1 : r < 0.9 ? 2 : 3;
    for (let s = 0; s < siblings && count < total; s++, count++) {
      const sex = random() < 0.5 ? 'Female' : 'Male';
      const ageDays = int(0, 700);
      const u = random();
      // Roughly: 12% missed in the last month, 5% due today, 10% due in 2 days, the rest within 60 days.
      // Without history a child is only its next appointment, so every child keeps one.
      const next =
        history && ageDays > 560 && u < 0.3 ? null : u < 0.12 ? -int(1, 30) : u < 0.17 ? 0 : u < 0.27 ? 2 : int(1, 60);
      addChild(
        caregiver,
        { firstName: pickOne(sex === 'Female' ? FEMALE : MALE), surname, sex, ageDays, next },
        history,
      );
    }
  }
}

function dv(dataElement: string, value: string, when: number, storedBy: string): StoredDataValue {
  return { dataElement, value, providedElsewhere: false, createdAt: when, updatedAt: when, storedBy };
}
