-- Where an app's log stream is forwarded. The URL may hold credentials:
-- it is sealed, and found again by its SHA-256.
CREATE TABLE log_drains (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    url_sha256 TEXT NOT NULL,
    url_sealed TEXT NOT NULL,
    token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (app_id, url_sha256)
);
