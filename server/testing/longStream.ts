// One patient stream of any length laid down in bulk SQL (as the owner: the app's role cannot
// write events directly): a registration, then demographic updates that rename the patient
// "N<version>", so the state at any version is known. Time travel's scale test and the bench's
// old-version row (bench/workloads/oldVersion.ts) use it.

/** Inserts the stream's events and its streams row through `client` (a pg client or pool). */
export async function layLongPatientStream(
  client: { query(sql: string, params: unknown[]): Promise<unknown> },
  streamId: string,
  patientId: string,
  events: number,
): Promise<void> {
  await client.query(
    `INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, event_version, data, occurred_at, recorded_at, user_id, correlation_id, causation_id)
     SELECT gen_random_uuid(), $1, 'patient',
            CASE WHEN v = 1 THEN 'PatientRegistered' ELSE 'PatientDemographicsUpdated' END, v, 1,
            CASE WHEN v = 1
              THEN jsonb_build_object('patientId', $2::text, 'mrn', 'T0000001', 'givenName', 'N1', 'familyName', 'Long',
                     'dateOfBirth', '1950-01-01', 'sex', 'female', 'email', null, 'phone', null, 'address', null)
              ELSE jsonb_build_object('patientId', $2::text, 'changes', jsonb_build_object('givenName', 'N' || v),
                     'previous', jsonb_build_object('givenName', 'N' || (v - 1)), 'reason', 'bulk history')
            END,
            timestamptz '2020-01-01' + v * interval '1 minute', timestamptz '2021-01-01' + v * interval '1 second', 'user-bulk', 'bulk', NULL
       FROM generate_series(1, $3::int) v`,
    [streamId, patientId, events],
  );
  await client.query("INSERT INTO streams (stream_id, stream_type, version) VALUES ($1, 'patient', $2)", [streamId, events]);
}
