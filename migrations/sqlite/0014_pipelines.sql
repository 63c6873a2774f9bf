-- Pipelines and review apps (issue 19).

-- A pipeline groups apps by stage (review, development, staging,
-- production); a release moves to the next stage by promotion, not a build.
CREATE TABLE pipelines (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT    NOT NULL UNIQUE,
    -- Whether a branch pushed to one of its apps makes a review app.
    review_apps         INTEGER NOT NULL DEFAULT 0,
    -- Review apps without a push for this long are destroyed (NULL: never).
    review_app_ttl_secs BIGINT,
    created_by          INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at          BIGINT  NOT NULL
);

-- An app is in at most one pipeline, at one stage.
CREATE TABLE pipeline_apps (
    app_id      INTEGER PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    stage       TEXT    NOT NULL,
    added_at    BIGINT  NOT NULL
);
CREATE INDEX pipeline_apps_by_pipeline ON pipeline_apps (pipeline_id);

-- A review app: the app a branch pushed to `parent` runs in. The parent
-- cannot go while it has review apps (they are destroyed first).
CREATE TABLE review_apps (
    app_id        INTEGER PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    parent_app_id INTEGER NOT NULL REFERENCES apps (id),
    branch        TEXT    NOT NULL,
    last_push_at  BIGINT  NOT NULL,
    UNIQUE (parent_app_id, branch)
);
