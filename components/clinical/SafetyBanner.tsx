// Under the patient's name on every chart page: allergies (or that none are known, or that
// nobody has recorded any), active alerts, age and sex, and the open encounter with its clinician.
import { DateTime } from "@/components/DateTime";
import { label } from "@/components/format";
import { activeAlerts, activeAllergies, type PatientSafety } from "@/shared/clinical/safety";
import { ageFrom } from "./format";

type BannerPatient = { dateOfBirth: string; sex: string; mrn: string; active: boolean; safety: PatientSafety; erasedAt?: Date | null };
type BannerEncounter = { encounterId: string; encounterType: string; startedAt: Date; providerName: string | null; location?: string | null };

const severe = new Set(["severe", "life_threatening"]);

export function SafetyBanner({ patient, openEncounters, now }: { patient: BannerPatient; openEncounters: BannerEncounter[]; now: Date | null }) {
  const allergies = activeAllergies(patient.safety);
  const alerts = activeAlerts(patient.safety);
  const encounter = openEncounters[0];
  return (
    <section className="safety-banner" aria-label="Patient safety" data-testid="safety-banner">
      <div className="banner-item banner-who">
        <span>{now ? ageFrom(patient.dateOfBirth, now) || "—" : "…"}</span>
        <span>{label(patient.sex)}</span>
        <span>
          MRN:{" "}
          <span className="mono" data-testid="patient-mrn">
            {patient.mrn}
          </span>
        </span>
        <span className="muted">born {patient.dateOfBirth}</span>
        {!patient.active ? <span className="badge muted">Inactive</span> : null}
      </div>
      <div className="banner-item" data-testid="banner-allergies">
        <span className="banner-label">Allergies</span>
        {allergies.length > 0 ? (
          <ul className="chips">
            {allergies.map((a) => (
              <li key={a.allergyId} className={severe.has(a.severity) ? "chip bad" : "chip warn"} title={a.reaction ?? undefined}>
                {a.substance.text}
                {a.reaction ? <span className="chip-detail"> · {a.reaction}</span> : null}
              </li>
            ))}
          </ul>
        ) : patient.safety.allergyStatus === "none_known" ? (
          <span className="chip ok">No known allergies</span>
        ) : patient.erasedAt ? (
          // Nobody can ask an erased patient or record anything more: not a call to act.
          <span className="chip">None recorded</span>
        ) : (
          <span className="chip unknown">Allergies not recorded</span>
        )}
      </div>
      {alerts.length > 0 ? (
        <div className="banner-item" data-testid="banner-alerts">
          <span className="banner-label">Alerts</span>
          <ul className="chips">
            {alerts.map((a) => (
              <li key={a.alertId} className="chip alert" title={a.note ?? undefined}>
                {label(a.kind)}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <div className="banner-item" data-testid="banner-encounter">
        <span className="banner-label">Encounter</span>
        {encounter ? (
          <span>
            {label(encounter.encounterType)}
            {encounter.location ? <> · {encounter.location}</> : null} · since <DateTime value={encounter.startedAt} precision="minute" />
            {encounter.providerName ? <> · {encounter.providerName}</> : null}
            {openEncounters.length > 1 ? <span className="muted"> (+{openEncounters.length - 1} more open)</span> : null}
          </span>
        ) : (
          <span className="muted">None open</span>
        )}
      </div>
    </section>
  );
}
