-- Notifiable-disease case reports (传染病报告卡), their CDC review, suspected food-borne
-- disease cases, the daily case counts behind early warning, warning signals and the
-- signal workflow. Rules: yiwei_domain::notifiable; shared/domain.md §4-5.
-- Keep in step with migrations/postgres/0008_notifiable.sql.
--
-- A card is never rewritten into another disease: revising the diagnosis (订正) inserts a
-- correction card pointing at the original (`corrects_id`) and marks the original
-- `superseded`. The phone of the card (often a parent's) is encrypted like the resident's
-- (yiwei_store::crypto, Field::Phone); the ID number stays on the resident record.
-- `township_code` and `diagnosed_on` (the county's local date) are copied at insert so
-- counting per township and day is an index scan.

CREATE TABLE case_report (
    id             INTEGER PRIMARY KEY,
    card_no        TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL CHECK (kind IN ('initial', 'correction')),
    corrects_id    INTEGER REFERENCES case_report(id),
    resident_id    INTEGER NOT NULL REFERENCES resident(id),
    division_code  TEXT NOT NULL REFERENCES division(code),
    township_code  TEXT NOT NULL,
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    author_id      INTEGER REFERENCES app_user(id),
    patient_name   TEXT NOT NULL,
    guardian_name  TEXT NOT NULL DEFAULT '',
    sex            TEXT NOT NULL,
    birth_date     TEXT NOT NULL,
    work_unit      TEXT NOT NULL DEFAULT '',
    phone_enc      BLOB,
    belongs        TEXT NOT NULL,
    address_code   TEXT NOT NULL,
    address_detail TEXT NOT NULL,
    occupation     TEXT NOT NULL,
    disease        TEXT NOT NULL,
    subtype        TEXT,
    case_class     TEXT NOT NULL,
    course         TEXT,
    onset_date     TEXT NOT NULL,
    diagnosed_at   TEXT NOT NULL,
    diagnosed_on   TEXT NOT NULL,
    death_date     TEXT,
    fill_date      TEXT NOT NULL,
    doctor         TEXT NOT NULL,
    remarks        TEXT NOT NULL DEFAULT '',
    reported_at    TEXT NOT NULL,
    deadline_hours INTEGER NOT NULL,
    on_time        BOOLEAN NOT NULL,
    status         TEXT NOT NULL CHECK (status IN
                       ('pending', 'probable_duplicate', 'accepted', 'returned', 'deleted', 'superseded')),
    duplicate_of   INTEGER REFERENCES case_report(id),
    version        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX case_report_resident ON case_report(resident_id, disease);
CREATE INDEX case_report_count ON case_report(diagnosed_on, disease, township_code);
CREATE INDEX case_report_division ON case_report(division_code, diagnosed_on);
CREATE INDEX case_report_status ON case_report(status, id);
CREATE INDEX case_report_institution ON case_report(institution_id, reported_at);

-- Every review action on a card, oldest first: the card's history.
CREATE TABLE case_review (
    id            INTEGER PRIMARY KEY,
    case_id       INTEGER NOT NULL REFERENCES case_report(id),
    action        TEXT NOT NULL CHECK (action IN ('accept', 'return', 'delete_duplicate', 'revise', 'resubmit')),
    from_status   TEXT NOT NULL,
    to_status     TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    correction_id INTEGER REFERENCES case_report(id),
    user_id       INTEGER REFERENCES app_user(id),
    at            TEXT NOT NULL
);
CREATE INDEX case_review_case ON case_review(case_id, id);

-- 食源性疾病病例监测: suspected food-borne disease cases.
CREATE TABLE foodborne_case (
    id              INTEGER PRIMARY KEY,
    resident_id     INTEGER NOT NULL REFERENCES resident(id),
    division_code   TEXT NOT NULL REFERENCES division(code),
    institution_id  INTEGER NOT NULL REFERENCES institution(id),
    author_id       INTEGER REFERENCES app_user(id),
    patient_name    TEXT NOT NULL,
    sex             TEXT NOT NULL,
    birth_date      TEXT NOT NULL,
    phone_enc       BLOB,
    address_code    TEXT NOT NULL,
    onset_at        TEXT NOT NULL,
    visit_at        TEXT NOT NULL,
    symptoms        TEXT NOT NULL DEFAULT '[]',   -- JSON array of codes
    suspected_food  TEXT NOT NULL DEFAULT '',
    food_place      TEXT NOT NULL DEFAULT '',
    shared_meal     INTEGER,
    shared_ill      INTEGER,
    specimen_taken  BOOLEAN NOT NULL DEFAULT FALSE,
    diagnosis       TEXT NOT NULL,
    fill_date       TEXT NOT NULL,
    doctor          TEXT NOT NULL,
    reported_at     TEXT NOT NULL,
    on_time         BOOLEAN NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'returned', 'deleted')),
    review_reason   TEXT NOT NULL DEFAULT '',
    reviewed_by     INTEGER REFERENCES app_user(id),
    reviewed_at     TEXT
);
CREATE INDEX foodborne_case_visit ON foodborne_case(visit_at);
CREATE INDEX foodborne_case_resident ON foodborne_case(resident_id);

-- Cases per day (the county's local diagnosis date), disease and township: the series the
-- warning job evaluates. Derived from case_report by the job (refresh is idempotent), so
-- it is not backed up.
CREATE TABLE case_count (
    day           TEXT NOT NULL,
    disease       TEXT NOT NULL,
    township_code TEXT NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (disease, township_code, day)
);
CREATE INDEX case_count_day ON case_count(day);

-- 预警信号: one per day, disease, area and method, so re-running a day adds nothing.
CREATE TABLE warning_signal (
    id            INTEGER PRIMARY KEY,
    day           TEXT NOT NULL,
    disease       TEXT NOT NULL,
    division_code TEXT NOT NULL REFERENCES division(code),
    method        TEXT NOT NULL,
    parameters    TEXT NOT NULL DEFAULT '{}',   -- JSON object name → value
    observed      REAL NOT NULL,
    threshold     REAL,
    expected      REAL,
    baseline      TEXT NOT NULL DEFAULT '{}',   -- JSON: from, to, n, mean, sd, note
    status        TEXT NOT NULL CHECK (status IN ('raised', 'assigned', 'verified', 'responding', 'closed')),
    outbreak      BOOLEAN,
    assigned_to   INTEGER REFERENCES app_user(id),
    raised_at     TEXT NOT NULL,
    verified_at   TEXT,
    closed_at     TEXT,
    version       INTEGER NOT NULL DEFAULT 1,
    UNIQUE (day, disease, division_code, method)
);
CREATE INDEX warning_signal_status ON warning_signal(status, day);
CREATE INDEX warning_signal_division ON warning_signal(division_code, day);

-- The signal workflow, oldest first.
CREATE TABLE signal_event (
    id          INTEGER PRIMARY KEY,
    signal_id   INTEGER NOT NULL REFERENCES warning_signal(id),
    step        TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    notes       TEXT NOT NULL DEFAULT '',
    assignee    INTEGER REFERENCES app_user(id),
    user_id     INTEGER REFERENCES app_user(id),
    at          TEXT NOT NULL
);
CREATE INDEX signal_event_signal ON signal_event(signal_id, id);
