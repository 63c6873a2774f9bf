-- Custom domains: each hostname routes to one app at most.
CREATE TABLE domains (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id INTEGER NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    hostname TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX domains_by_app ON domains (app_id);
