-- Accounts, tokens, apps, memberships and the audit trail.
-- Times are Unix milliseconds (UTC) so the same SQL runs on SQLite and Postgres.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT    NOT NULL UNIQUE,
    -- argon2id PHC string; NULL until the user sets a password (token-only access).
    password_hash TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE api_tokens (
    -- Public part of the token, used to find it; the secret part is stored as SHA-256.
    id            TEXT    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_sha256 TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    scope         TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT,
    expires_at    BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE apps (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL
);

CREATE TABLE memberships (
    app_id     INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (app_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

-- Who changed what, when and from where. Names, never secret values. Rows
-- outlive the apps and users they mention, so they hold names, not keys.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT  NOT NULL,
    actor_email TEXT,
    source      TEXT    NOT NULL,
    app_name    TEXT,
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX audit_events_by_app ON audit_events (app_name, at);
