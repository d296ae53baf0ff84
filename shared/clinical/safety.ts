// Allergies and clinical alerts: the value lists, the payload schemas and the medication check,
// shared by the patient and order deciders and the console's forms and banner. Pure: zod and
// data only, so a component may import it.
import { z } from "zod";
import { text } from "../text";

// ---- value lists -------------------------------------------------------------------------------

/** Drug classes the medication check knows (a small table, not a formulary). */
export const drugClasses = ["penicillins", "cephalosporins", "sulfonamides", "nsaids", "opioids", "iodinated_contrast", "macrolides", "tetracyclines"] as const;
export type DrugClass = (typeof drugClasses)[number];

/** The coded substances offered first in the form; anything else is recorded as free text. */
export const allergySubstances = [
  { code: "penicillin", label: "Penicillin", drugClass: "penicillins" },
  { code: "amoxicillin", label: "Amoxicillin", drugClass: "penicillins" },
  { code: "cephalosporin", label: "Cephalosporins", drugClass: "cephalosporins" },
  { code: "sulfonamide", label: "Sulfonamide antibiotics (sulfa)", drugClass: "sulfonamides" },
  { code: "nsaid", label: "NSAIDs", drugClass: "nsaids" },
  { code: "aspirin", label: "Aspirin", drugClass: "nsaids" },
  { code: "ibuprofen", label: "Ibuprofen", drugClass: "nsaids" },
  { code: "opioid", label: "Opioids", drugClass: "opioids" },
  { code: "codeine", label: "Codeine", drugClass: "opioids" },
  { code: "morphine", label: "Morphine", drugClass: "opioids" },
  { code: "macrolide", label: "Macrolides", drugClass: "macrolides" },
  { code: "tetracycline", label: "Tetracyclines", drugClass: "tetracyclines" },
  { code: "iodinated_contrast", label: "Iodinated contrast", drugClass: "iodinated_contrast" },
  { code: "latex", label: "Latex", drugClass: null },
  { code: "peanut", label: "Peanut", drugClass: null },
  { code: "egg", label: "Egg", drugClass: null },
  { code: "shellfish", label: "Shellfish", drugClass: null },
] as const satisfies readonly { code: string; label: string; drugClass: DrugClass | null }[];

export const allergySubstanceCodes = allergySubstances.map((s) => s.code) as [
  (typeof allergySubstances)[number]["code"],
  ...(typeof allergySubstances)[number]["code"][],
];
export type AllergySubstanceCode = (typeof allergySubstances)[number]["code"];

/** Drug names (generic and common brand) by class: what an order's description is read for. */
const drugNames: Record<DrugClass, readonly string[]> = {
  penicillins: ["penicillin", "amoxicillin", "ampicillin", "piperacillin", "flucloxacillin", "dicloxacillin", "benzylpenicillin", "phenoxymethylpenicillin", "co-amoxiclav", "augmentin", "tazocin"],
  cephalosporins: ["cephalosporin", "cefalexin", "cephalexin", "cefazolin", "cefuroxime", "ceftriaxone", "cefotaxime", "ceftazidime", "cefepime"],
  sulfonamides: ["sulfonamide", "sulfa", "sulfamethoxazole", "co-trimoxazole", "cotrimoxazole", "bactrim", "sulfasalazine"],
  nsaids: ["nsaid", "aspirin", "ibuprofen", "naproxen", "diclofenac", "ketorolac", "celecoxib", "indometacin", "indomethacin"],
  opioids: ["opioid", "codeine", "morphine", "oxycodone", "hydromorphone", "fentanyl", "tramadol", "pethidine", "tapentadol"],
  macrolides: ["macrolide", "erythromycin", "clarithromycin", "azithromycin"],
  tetracyclines: ["tetracycline", "doxycycline", "minocycline"],
  iodinated_contrast: ["iodinated contrast", "iohexol", "iopamidol", "iodixanol", "omnipaque"],
};

export const allergySeverities = ["mild", "moderate", "severe", "life_threatening", "unknown"] as const;
export type AllergySeverity = (typeof allergySeverities)[number];

/** Who reported it: the patient, a relative, seen by staff, or an earlier record. */
export const allergySources = ["patient", "relative", "clinician_observed", "prior_record"] as const;
export type AllergySource = (typeof allergySources)[number];

export const allergyStatuses = ["active", "refuted", "resolved"] as const;
export type AllergyStatus = (typeof allergyStatuses)[number];

export const alertKinds = ["fall_risk", "contact_isolation", "droplet_isolation", "airborne_isolation", "violence_risk", "difficult_airway", "do_not_resuscitate", "other"] as const;
export type AlertKind = (typeof alertKinds)[number];

/** Label overrides for value lists, where the generic "snake_case -> Sentence" reads badly. */
export const safetyLabels: Record<string, string> = {
  clinician_observed: "Observed by a clinician",
  prior_record: "Earlier record",
  life_threatening: "Life-threatening",
  do_not_resuscitate: "Do not resuscitate",
};

// ---- payload schemas -----------------------------------------------------------------------

/** A substance: a code from the list (with its label as text), or free text alone. */
export const allergySubstanceSchema = z.object({
  code: z.enum(allergySubstanceCodes).nullable(),
  /** Free text, PHI: the substance as named for this patient. */
  text: text(200, { min: 1, minMessage: "name the substance" }),
});
export type AllergySubstance = z.output<typeof allergySubstanceSchema>;

export const allergyReasonSchema = text(500, { min: 1, minMessage: "a reason is required", maxMessage: "the reason may be at most 500 characters" });

/** What a clinician fills in to record an allergy (the server adds the ids). */
export const allergyFormSchema = z.object({
  substance: allergySubstanceSchema,
  /** Free text, PHI: what happened (rash, anaphylaxis...). */
  reaction: text(500).transform((v) => v || null).nullable(),
  severity: z.enum(allergySeverities),
  source: z.enum(allergySources),
  /** Free text, PHI. */
  note: text(1000).transform((v) => v || null).nullable(),
});
export type AllergyFormInput = z.input<typeof allergyFormSchema>;

export const alertFormSchema = z.object({
  kind: z.enum(alertKinds),
  /** Free text, PHI: details for colleagues (which organism, since when). */
  note: text(1000).transform((v) => v || null).nullable(),
});
export type AlertFormInput = z.input<typeof alertFormSchema>;

/** The reason a clinician gives to order a drug despite a recorded allergy. PHI (describes the patient). */
export const allergyOverrideReasonSchema = text(500, {
  min: 10,
  minMessage: "say why in at least 10 characters",
  maxMessage: "the reason may be at most 500 characters",
});

// ---- the patient's safety facts, as state and read model hold them ----------------------------

export type Allergy = {
  allergyId: string;
  substance: AllergySubstance;
  reaction: string | null;
  severity: AllergySeverity;
  source: AllergySource;
  note: string | null;
  status: AllergyStatus;
  statusReason: string | null;
};

export type ClinicalAlert = { alertId: string; kind: AlertKind; note: string | null; active: boolean; resolvedReason: string | null };

/** "unknown": nothing recorded (never assume none); "none_known": recorded as such. */
export type AllergyRecordStatus = "unknown" | "none_known" | "recorded";

export type PatientSafety = { allergyStatus: AllergyRecordStatus; allergies: Allergy[]; alerts: ClinicalAlert[] };

export const emptySafety = (): PatientSafety => ({ allergyStatus: "unknown", allergies: [], alerts: [] });

export const activeAllergies = (safety: PatientSafety): Allergy[] => safety.allergies.filter((a) => a.status === "active");
export const activeAlerts = (safety: PatientSafety): ClinicalAlert[] => safety.alerts.filter((a) => a.active);

/** "snake_case" -> "Snake case", with the overrides above. */
export const safetyLabel = (value: string): string => safetyLabels[value] ?? value.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

/** Allergy and alert ids -> what they are, for events that carry only the id. */
export function safetyNames(safety: PatientSafety): Record<string, string> {
  return Object.fromEntries([
    ...safety.allergies.map((a) => [a.allergyId, `Allergy: ${a.substance.text}`]),
    ...safety.alerts.map((a) => [a.alertId, `Alert: ${safetyLabel(a.kind)}`]),
  ]);
}

// ---- the medication check -----------------------------------------------------------------------

/** Lower case, accents off, punctuation to spaces: "Amoxicillin 500mg (Amoxil®)" -> "amoxicillin 500mg amoxil". */
export function foldText(value: string): string {
  return value
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}-]+/gu, " ")
    .trim();
}

const containsTerm = (haystack: string, term: string) => ` ${haystack} `.includes(` ${term} `) || (term.length >= 5 && haystack.includes(term));

function classesIn(folded: string): Set<DrugClass> {
  const found = new Set<DrugClass>();
  for (const drugClass of drugClasses) {
    if (drugNames[drugClass].some((name) => containsTerm(folded, name))) found.add(drugClass);
  }
  return found;
}

function classOfSubstance(substance: AllergySubstance): Set<DrugClass> {
  const coded = allergySubstances.find((s) => s.code === substance.code)?.drugClass;
  const classes = classesIn(foldText(substance.text));
  if (coded) classes.add(coded);
  return classes;
}

export type AllergyConflict = {
  allergyId: string;
  /** The substance as recorded (PHI). */
  substance: string;
  /** "substance": the order names the substance itself; "class": a drug of the same class. */
  matchedBy: "substance" | "class";
  drugClass: DrugClass | null;
};

/**
 * The active allergies a medication order runs into: the order's description or code names the
 * recorded substance, or a drug of the same class (amoxicillin for a penicillin allergy).
 */
export function allergyConflicts(order: { description: string; code?: string | null }, allergies: readonly Allergy[]): AllergyConflict[] {
  const folded = foldText(`${order.description} ${order.code ?? ""}`);
  if (!folded) return [];
  const orderClasses = classesIn(folded);
  const conflicts: AllergyConflict[] = [];
  for (const allergy of allergies) {
    if (allergy.status !== "active") continue;
    const substance = foldText(allergy.substance.text);
    if (substance && containsTerm(folded, substance)) {
      conflicts.push({ allergyId: allergy.allergyId, substance: allergy.substance.text, matchedBy: "substance", drugClass: null });
      continue;
    }
    const shared = [...classOfSubstance(allergy.substance)].find((c) => orderClasses.has(c));
    if (shared) conflicts.push({ allergyId: allergy.allergyId, substance: allergy.substance.text, matchedBy: "class", drugClass: shared });
  }
  return conflicts;
}
