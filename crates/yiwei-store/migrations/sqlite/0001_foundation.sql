-- Foundation schema (SQLite). Keep in step with migrations/postgres/0001_foundation.sql;
-- the conformance suite runs the same queries on both.
-- Times are TEXT (RFC 3339, UTC, written by sqlx from chrono); dates are TEXT YYYY-MM-DD.

CREATE TABLE division (
    code        TEXT PRIMARY KEY,             -- significant digits, see yiwei_domain::division
    parent_code TEXT REFERENCES division(code),
    level       TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_en     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX division_parent ON division(parent_code);

CREATE TABLE medical_community (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    name_en     TEXT NOT NULL DEFAULT '',
    county_code TEXT NOT NULL REFERENCES division(code)
);

CREATE TABLE institution (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    name_en       TEXT NOT NULL DEFAULT '',
    kind          TEXT NOT NULL,
    division_code TEXT NOT NULL REFERENCES division(code),
    community_id  INTEGER REFERENCES medical_community(id),
    is_lead       BOOLEAN NOT NULL DEFAULT FALSE,
    active        BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX institution_division ON institution(division_code);

-- The core of a resident (居民). The residents issue widens this table; the foundation needs
-- it so that reach, audit and field encryption have a personal record to guard.
CREATE TABLE resident (
    id            INTEGER PRIMARY KEY,
    division_code TEXT NOT NULL REFERENCES division(code),
    name          TEXT NOT NULL,
    sex           TEXT NOT NULL,
    birth_date    TEXT,
    id_card_enc   BLOB,
    id_card_hash  BLOB,
    phone_enc     BLOB,
    phone_hash    BLOB,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX resident_division ON resident(division_code);
CREATE UNIQUE INDEX resident_id_card_hash ON resident(id_card_hash) WHERE id_card_hash IS NOT NULL;
CREATE INDEX resident_phone_hash ON resident(phone_hash) WHERE phone_hash IS NOT NULL;

CREATE TABLE app_user (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL,
    institution_id  INTEGER REFERENCES institution(id),
    reach_code      TEXT NOT NULL REFERENCES division(code),
    resident_id     INTEGER REFERENCES resident(id),
    password_hash   TEXT NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    phone_enc       BLOB,
    phone_hash      BLOB,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE web_session (
    token_hash   BLOB PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES app_user(id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX web_session_user ON web_session(user_id);

CREATE TABLE api_token (
    id           INTEGER PRIMARY KEY,
    token_hash   BLOB NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES app_user(id),
    label        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT
);

-- 紧急授权: a user's explicit, reasoned access to one resident outside their reach.
CREATE TABLE break_glass (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES app_user(id),
    resident_id INTEGER NOT NULL REFERENCES resident(id),
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    reviewed_by INTEGER REFERENCES app_user(id),
    reviewed_at TEXT,
    review_note TEXT
);
CREATE INDEX break_glass_user_resident ON break_glass(user_id, resident_id);

-- The append-only, hash-chained audit log. `seq` is gapless: it is assigned while holding
-- the single audit_head row, which also carries the last hash.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    user_id        INTEGER,
    username       TEXT,
    role           TEXT,
    institution_id INTEGER,
    action         TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    object_type    TEXT,
    object_id      TEXT,
    resident_id    INTEGER,
    basis          TEXT,
    reason         TEXT,
    remote_addr    TEXT,
    prev_hash      BLOB NOT NULL,
    hash           BLOB NOT NULL
);
CREATE INDEX audit_log_resident ON audit_log(resident_id, seq) WHERE resident_id IS NOT NULL;
CREATE INDEX audit_log_user ON audit_log(user_id, seq);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
