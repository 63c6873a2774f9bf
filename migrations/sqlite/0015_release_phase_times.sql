-- When each phase of a release began (issue 20: the releases page shows how
-- long each took): `building@<ms>,releasing@<ms>,starting@<ms>`, Unix
-- milliseconds, the first phase at the release's creation. Releases made
-- before this have none.
ALTER TABLE releases ADD COLUMN phase_times TEXT NOT NULL DEFAULT '';
