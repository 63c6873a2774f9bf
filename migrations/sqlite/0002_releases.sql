-- Releases, formation and the per-app deploy lease.

-- A release is immutable once finished: images per process type, the commit,
-- the config it ran with (sealed), who made it and how it went.
CREATE TABLE releases (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id          INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    description     TEXT    NOT NULL,
    commit_sha      TEXT,
    -- pending while it is being built, released and started; then succeeded or failed.
    status          TEXT    NOT NULL,
    -- What a pending release is doing now (building, releasing, starting), so an
    -- interrupted deploy can be found and finished or undone.
    phase           TEXT    NOT NULL,
    release_image   TEXT,
    release_command TEXT,
    -- The config vars the release runs with, sealed with the platform key.
    config_sealed   TEXT    NOT NULL,
    -- Build and release-phase output, kept for `releases:output`.
    output          TEXT    NOT NULL DEFAULT '',
    failure         TEXT,
    created_by      TEXT,
    created_at      BIGINT  NOT NULL,
    finished_at     BIGINT,
    UNIQUE (app_id, version)
);

CREATE TABLE release_processes (
    release_id   INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    process_type TEXT    NOT NULL,
    image        TEXT    NOT NULL,
    -- The command line run under /bin/sh -c; NULL runs the image's CMD.
    command      TEXT,
    PRIMARY KEY (release_id, process_type)
);

-- How many of each process type should run.
CREATE TABLE formations (
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    process_type TEXT    NOT NULL,
    quantity     INTEGER NOT NULL,
    PRIMARY KEY (app_id, process_type)
);

-- One deploy at a time per app, across processes and hosts: a lease that
-- expires, so a crashed deployer does not block the app for ever.
CREATE TABLE deploy_leases (
    app_id     INTEGER PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    holder     TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);

-- The release that should be running (NULL before the first deploy).
ALTER TABLE apps ADD COLUMN current_release INTEGER;
