-- The basic public-health programmes (国家基本公共卫生服务项目; yiwei_domain::programme):
-- enrolments, the visits made, the doses given, the materialised work list and the reminder
-- outbox. Keep in step with migrations/postgres/0007_programmes.sql.
--
-- Visits and doses are never deleted: a wrong entry is voided with a reason, so indicators
-- for a closed period can be recomputed and the history stays readable. Every row carries
-- the resident's village at the time (design.md), so aggregates by village are range scans.

-- 在管 (under management): who is in a programme since when. For condition programmes the
-- start is the day management started (the 72 hours of tuberculosis run from it); for
-- maternal care one row per pregnancy, whose dates live in `episode` (JSON: lmp, edd,
-- delivered_on, discharged_on); for student screening the school and grade.
CREATE TABLE programme_enrolment (
    id            INTEGER PRIMARY KEY,
    resident_id   INTEGER NOT NULL REFERENCES resident(id),
    programme     TEXT NOT NULL,
    started_on    TEXT NOT NULL,
    ended_on      TEXT,
    end_reason    TEXT,
    episode       TEXT NOT NULL DEFAULT '{}',
    created_by    INTEGER REFERENCES app_user(id),
    created_at    TEXT NOT NULL,
    CHECK (ended_on IS NULL OR ended_on >= started_on)
);
CREATE UNIQUE INDEX programme_enrolment_open
    ON programme_enrolment(resident_id, programme) WHERE ended_on IS NULL;
CREATE INDEX programme_enrolment_programme ON programme_enrolment(programme, started_on);

-- One visit of a programme (随访, 体检, 访视, 筛查): an encounter of the timeline plus the
-- programme's form answers (JSON object, as validated) and what the rules concluded.
CREATE TABLE programme_visit (
    id             INTEGER PRIMARY KEY,
    resident_id    INTEGER NOT NULL REFERENCES resident(id),
    encounter_id   INTEGER NOT NULL REFERENCES encounter(id),
    enrolment_id   INTEGER REFERENCES programme_enrolment(id),
    programme      TEXT NOT NULL,
    visit_code     TEXT NOT NULL,
    visit_date     TEXT NOT NULL,
    division_code  TEXT NOT NULL REFERENCES division(code),
    answers        TEXT NOT NULL DEFAULT '{}',
    classification TEXT,
    referral       TEXT,                 -- JSON {urgency, zh, en, follow_up_within_days}
    next_due_kind  TEXT CHECK (next_due_kind IN ('on', 'by')),
    next_due_on    TEXT,
    recorded_by    INTEGER REFERENCES app_user(id),
    recorded_at    TEXT NOT NULL,
    voided_at      TEXT,
    voided_by      INTEGER REFERENCES app_user(id),
    void_reason    TEXT
);
CREATE INDEX programme_visit_resident ON programme_visit(resident_id, programme, visit_date);
CREATE INDEX programme_visit_division ON programme_visit(programme, division_code, visit_date);
CREATE INDEX programme_visit_encounter ON programme_visit(encounter_id);

-- 预防接种: a dose given. `problems` lists the schedule rules the dose broke when it was
-- recorded anyway with a reason (a dose given elsewhere, or before the schedule said).
CREATE TABLE immunization (
    id             INTEGER PRIMARY KEY,
    resident_id    INTEGER NOT NULL REFERENCES resident(id),
    vaccine        TEXT NOT NULL,
    given_on       TEXT NOT NULL,
    lot            TEXT NOT NULL DEFAULT '',
    manufacturer   TEXT NOT NULL DEFAULT '',
    site           TEXT NOT NULL DEFAULT '',
    institution_id INTEGER REFERENCES institution(id),
    division_code  TEXT NOT NULL REFERENCES division(code),
    problems       TEXT NOT NULL DEFAULT '[]',
    override_reason TEXT,
    recorded_by    INTEGER REFERENCES app_user(id),
    recorded_at    TEXT NOT NULL,
    voided_at      TEXT,
    voided_by      INTEGER REFERENCES app_user(id),
    void_reason    TEXT
);
CREATE INDEX immunization_resident ON immunization(resident_id, given_on);
CREATE INDEX immunization_division ON immunization(division_code, given_on);

-- The work list, materialised: every open, overdue or recently missed visit or dose of every
-- resident, as yiwei_domain::programme::due and ::immunization::vaccine_due computed it.
-- Status is derived on read from the dates and the day asked. Rewritten per resident on
-- every write that changes it and for everyone by the `programme_due` job (daily, and after
-- a schedule change). Derived data: not in backups, rebuilt after a restore.
CREATE TABLE programme_due (
    resident_id   INTEGER NOT NULL REFERENCES resident(id),
    programme     TEXT NOT NULL,        -- a programme code, or 'immunization'
    visit_code    TEXT NOT NULL,        -- a visit kind, or '<series>:<dose>' for a dose
    due_from      TEXT NOT NULL,
    due_by        TEXT NOT NULL,
    missed_on     TEXT,
    division_code TEXT NOT NULL,
    PRIMARY KEY (resident_id, programme, visit_code, due_from)
);
CREATE INDEX programme_due_division ON programme_due(division_code, due_from);

-- Reminders ready to send (短信提醒). No gateway here: an operator exports the pending
-- messages (CSV) and marks them sent by doing so. `dedupe_key` keeps a reminder from being
-- queued twice for the same due visit.
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    resident_id   INTEGER REFERENCES resident(id),
    division_code TEXT NOT NULL,
    channel       TEXT NOT NULL DEFAULT 'sms' CHECK (channel IN ('sms')),
    topic         TEXT NOT NULL,
    dedupe_key    TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'exported', 'cancelled')),
    exported_at   TEXT,
    exported_by   INTEGER REFERENCES app_user(id)
);
CREATE INDEX outbox_status ON outbox(status, division_code, id);
