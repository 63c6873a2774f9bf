-- Audit rows name apps, and app names are reused after a destroy: a new app
-- must never show the old one's trail. Rows now also carry the app's id,
-- which AUTOINCREMENT never hands out twice, and an app's trail is read by it.
ALTER TABLE audit_events ADD COLUMN app_id INTEGER;
-- Rows older than the app now holding the name belonged to an earlier app
-- of that name, and stay without an id (the platform trail still shows them).
UPDATE audit_events SET app_id = (
    SELECT apps.id FROM apps
    WHERE apps.name = audit_events.app_name AND apps.created_at <= audit_events.at
);
CREATE INDEX audit_events_by_app_id ON audit_events (app_id, at);
