-- Resource limits and persistent volumes (issue 17).

-- The limits a release's process runs with (NULL: none of its own).
ALTER TABLE release_processes ADD COLUMN memory_bytes BIGINT;
ALTER TABLE release_processes ADD COLUMN nano_cpus BIGINT;
-- What a Compose service says beyond image and command (entrypoint,
-- environment, user, health check, port, …): JSON, sealed with the platform
-- key because its environment may hold secrets. NULL: nothing.
ALTER TABLE release_processes ADD COLUMN options_sealed TEXT;

-- Limits set with `ps:limits`: they win over the manifest's at every deploy.
CREATE TABLE process_limits (
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    process_type TEXT    NOT NULL,
    memory_bytes BIGINT,
    nano_cpus    BIGINT,
    PRIMARY KEY (app_id, process_type)
);

-- An app's named volumes: mounted at `path` into every container of
-- `process_type`, kept on `host` (the process type runs there).
CREATE TABLE volumes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    process_type TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    UNIQUE (app_id, name),
    UNIQUE (app_id, process_type, path)
);
