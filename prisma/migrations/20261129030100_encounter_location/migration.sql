-- Where an encounter takes place (ward, room, bed, clinic), for the chart's safety banner.
-- EncounterStarted v2 carries it; encounters started before have none.
ALTER TABLE rm_encounters ADD COLUMN location text;
