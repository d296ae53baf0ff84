/**
 * The public key of an audit signing key retired before the e2e run (AUDIT_VERIFY_PUBLIC_KEYS on
 * the e2e server, as after keys:rotate): seals it signed would verify with it, so the console
 * and every extract name it. Its private half was never kept.
 */
export const retiredAuditPublicKey = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJzIJ2FAR5+WSGxgsdAVUsZWFeJZbWAmc7KPPb9z5Ur8=
-----END PUBLIC KEY-----
`;
