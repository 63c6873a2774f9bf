-- Add-ons: a database or cache provisioned for an app. The credentials
-- (URL, login, password, the provider's resource names) are sealed. An
-- add-on belongs to the app that created it (no cascade: destroying that
-- app needs its add-ons destroyed first, so nothing is left provisioned
-- without a record).
CREATE TABLE addons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    service TEXT NOT NULL,
    plan TEXT NOT NULL,
    provider_mode TEXT NOT NULL,
    credentials_sealed TEXT NOT NULL,
    app_id INTEGER NOT NULL REFERENCES apps(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX addons_by_app ON addons (app_id);

-- Which apps an add-on is attached to, and as what: attachment `AS` sets
-- the config var `<AS>_URL` of that app.
CREATE TABLE addon_attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    addon_id INTEGER NOT NULL REFERENCES addons(id) ON DELETE CASCADE,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    as_name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, as_name),
    UNIQUE (addon_id, app_id)
);
CREATE INDEX addon_attachments_by_app ON addon_attachments (app_id);
