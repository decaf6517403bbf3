-- Scheduled and on-demand work (jobs). A job is identified by (kind, dedup_key), so
-- enqueueing the same work twice is a no-op and a rerun after a crash loses nothing.
CREATE TABLE job (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    dedup_key    TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    state        TEXT NOT NULL DEFAULT 'queued',   -- queued | running | done | failed
    run_at       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 5,
    claimed_by   TEXT,
    claimed_at   TEXT,
    finished_at  TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    UNIQUE (kind, dedup_key)
);
CREATE INDEX job_due ON job(state, run_at);
