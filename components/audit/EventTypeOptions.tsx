// The event types as the audit filters offer them: grouped by what they are about
// (`audit.options`' eventGroups), each titled as people read it.
import { eventTitle } from "../format";

export type EventGroup = { category: string; label: string; types: string[] };

export function EventTypeOptions({ groups }: { groups: readonly EventGroup[] | undefined }) {
  return (
    <>
      {(groups ?? []).map(({ category, label, types }) => (
        <optgroup key={category} label={label}>
          {types.map((t) => (
            <option key={t} value={t}>
              {eventTitle(t)}
            </option>
          ))}
        </optgroup>
      ))}
    </>
  );
}
