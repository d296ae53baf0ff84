-- Attempts per client address now hold two buckets, enrolment links and failed sign-ins (the
-- key is a hash of the bucket and the address). Sign-ins were counted by the auth library, which
-- started its count again only after a minute with no attempt at all, so a steady stream from one
-- address (a ward's workstations behind one NAT address) was refused however slowly it came.
-- Renamed, not copied: the grants go with the table. Rows keyed the old way (the address alone)
-- match no key now and are pruned with the next window's.
ALTER TABLE auth_enrolment_attempts RENAME TO auth_address_attempts;
ALTER INDEX auth_enrolment_attempts_pkey RENAME TO auth_address_attempts_pkey;
ALTER INDEX auth_enrolment_attempts_window_idx RENAME TO auth_address_attempts_window_idx;
