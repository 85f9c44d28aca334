import type { StaffLocale } from './deployment.ts';

/**
 * What programme staff read in DHIS2 about AEFI cases and possible duplicates that Jibu files, in the
 * deployment's staff language (`staffLocale`), in one table. Tracked entity and org unit uids stay as they
 * are: staff paste them into the DHIS2 apps.
 */
export interface SurveillanceTexts {
  /** "Reporter of AEFI case" for a caregiver's report; `via` is the channel (`SMS`, `USSD`). */
  reporterCaregiver: (a: { via: string }) => string;
  /** "Reporter of AEFI case" for a case worker's report. */
  reporterCaseWorker: (a: { name: string }) => string;
  /** A batch number whose vaccine the case worker could not name, kept in the AEFI comments. */
  batchUnattributed: (a: { batch: string }) => string;
  /**
   * On a new birth enrollment when DHIS2 would not take a potential-duplicate record: which registered child
   * it may be, where, and why the record could not be filed.
   */
  possibleDuplicate: (a: { original: string; orgUnit: string; reason: string; ref: string }) => string;
}

export const SURVEILLANCE_TEXTS: Readonly<Record<StaffLocale, SurveillanceTexts>> = {
  en: {
    reporterCaregiver: (a) => `Caregiver, by Jibu ${a.via}`,
    reporterCaseWorker: (a) => `${a.name}, case worker (Jibu USSD)`,
    batchUnattributed: (a) => `Batch/lot number on the child's card: ${a.batch} (vaccine not named).`,
    possibleDuplicate: (a) =>
      `Possible duplicate of tracked entity ${a.original} (registered at ${a.orgUnit}): same first name and date of birth. DHIS2 did not accept a potential-duplicate record (${a.reason}); please check. Jibu ref ${a.ref}.`,
  },
  fr: {
    reporterCaregiver: (a) => `Parent, par ${a.via} Jibu`,
    reporterCaseWorker: (a) => `${a.name}, agent communautaire (Jibu USSD)`,
    batchUnattributed: (a) => `Numéro de lot sur le carnet de l'enfant : ${a.batch} (vaccin non précisé).`,
    possibleDuplicate: (a) =>
      `Doublon possible de l'entité suivie ${a.original} (enregistrée à ${a.orgUnit}) : même prénom et même date de naissance. DHIS2 n'a pas accepté d'enregistrement de doublon potentiel (${a.reason}) ; merci de vérifier. Réf. Jibu ${a.ref}.`,
  },
  pt: {
    reporterCaregiver: (a) => `Cuidador, por ${a.via} Jibu`,
    reporterCaseWorker: (a) => `${a.name}, agente comunitário (Jibu USSD)`,
    batchUnattributed: (a) => `Número de lote no cartão da criança: ${a.batch} (vacina não indicada).`,
    possibleDuplicate: (a) =>
      `Possível duplicado da entidade ${a.original} (registada em ${a.orgUnit}): mesmo nome próprio e mesma data de nascimento. O DHIS2 não aceitou um registo de duplicado potencial (${a.reason}); por favor verifique. Ref. Jibu ${a.ref}.`,
  },
  sw: {
    reporterCaregiver: (a) => `Mlezi, kupitia ${a.via} ya Jibu`,
    reporterCaseWorker: (a) => `${a.name}, mhudumu wa afya ya jamii (Jibu USSD)`,
    batchUnattributed: (a) => `Namba ya batch kwenye kadi ya mtoto: ${a.batch} (chanjo haikutajwa).`,
    possibleDuplicate: (a) =>
      `Huenda ni nakala ya mtu ${a.original} (aliyesajiliwa ${a.orgUnit}): jina la kwanza na tarehe ya kuzaliwa ni sawa. DHIS2 haikukubali rekodi ya nakala inayowezekana (${a.reason}); tafadhali hakiki. Kumb. ya Jibu ${a.ref}.`,
  },
  rw: {
    reporterCaregiver: (a) => `Umurezi, akoresheje ${a.via} ya Jibu`,
    reporterCaseWorker: (a) => `${a.name}, umujyanama w'ubuzima (Jibu USSD)`,
    batchUnattributed: (a) => `Nimero y'icyiciro (batch) ku ikarita y'umwana: ${a.batch} (urukingo ntirwavuzwe).`,
    possibleDuplicate: (a) =>
      `Ashobora kuba yanditswe kabiri: ${a.original} (wanditswe kuri ${a.orgUnit}) afite izina n'itariki y'amavuko bimwe. DHIS2 ntiyemeye kwandika ko ashobora kuba yanditswe kabiri (${a.reason}); mwagenzura. Nimero ya Jibu ${a.ref}.`,
  },
};
