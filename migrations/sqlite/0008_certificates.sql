-- Certificates of custom domains: at most one automatic (ACME) and one
-- manual per domain; the manual one wins. Keys are sealed by the platform.
CREATE TABLE certificates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    source TEXT NOT NULL CHECK (source IN ('acme', 'manual')),
    chain_pem TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    issuer TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (domain_id, source)
);

-- Automatic issuance per domain: when to try next (issue, renew or retry
-- after a failure), how many failures in a row, the last error in words.
CREATE TABLE acme_states (
    domain_id INTEGER PRIMARY KEY REFERENCES domains(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The platform's one ACME account per directory; credentials sealed.
CREATE TABLE acme_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    directory TEXT NOT NULL UNIQUE,
    credentials_sealed TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Per-app HTTPS policy; an app without a row redirects once it has a
-- valid certificate and sends no HSTS.
CREATE TABLE app_tls_settings (
    app_id INTEGER PRIMARY KEY REFERENCES apps(id) ON DELETE CASCADE,
    redirect_http INTEGER NOT NULL,
    hsts INTEGER NOT NULL
);
