-- Corrections of encounters and health exams (更正/作废). Nothing is deleted: a correction
-- keeps the replaced version in `exam_revision`, a wrong entry is voided with a reason and
-- leaves the timeline, the quality checks and the figures, but stays readable.
ALTER TABLE encounter ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE encounter ADD COLUMN voided_at TEXT;
ALTER TABLE encounter ADD COLUMN voided_by INTEGER REFERENCES app_user(id);
ALTER TABLE encounter ADD COLUMN void_reason TEXT;

-- One row per replaced version of an exam: what it said before the correction (the
-- encounter's and the exam's columns as one JSON object), why it changed, who changed it.
CREATE TABLE exam_revision (
    id           INTEGER PRIMARY KEY,
    encounter_id INTEGER NOT NULL REFERENCES encounter(id),
    version      INTEGER NOT NULL,
    previous     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    changed_by   INTEGER REFERENCES app_user(id),
    changed_at   TEXT NOT NULL,
    UNIQUE (encounter_id, version)
);
