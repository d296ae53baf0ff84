// Stream ids of the clinical aggregates: the type, then the aggregate's uuid.
export const patientStream = (id: string) => `patient-${id}`;
export const encounterStream = (id: string) => `encounter-${id}`;
export const orderStream = (id: string) => `order-${id}`;
