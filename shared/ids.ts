// Ids as the console's addresses carry them. Pure: pages, components and the server may use it.

/** A UUID in its usual text form (any version): what every patient, event and order id is. */
export const isUuid = (value: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
