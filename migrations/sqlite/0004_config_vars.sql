-- An app's config vars as they stand, each value sealed with the platform key.
-- A release keeps its own sealed snapshot; this is what the next release gets.
CREATE TABLE config_vars (
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    value_sealed TEXT    NOT NULL,
    PRIMARY KEY (app_id, name)
);
