-- 防返贫监测预警: medical charges per visit from every institution, the alert rules with
-- their history, the monthly alerts and the household checks (入户核查).
-- Rules: shared/domain.md §8; yiwei_domain::cost_alert. Keep in step with
-- migrations/postgres/0014_cost_alert.sql. Money is integer fen.

-- One row per visit an institution reports. (institution_id, external_visit_id) is the
-- institution's own visit number, so a re-submitted charge updates its row instead of
-- adding one. resident_id is NULL while the patient is not matched to a resident: the
-- identifying data stays (ID card encrypted and hashed like resident.id_card_*, the name)
-- until someone attaches the charge, and the row is never dropped.
CREATE TABLE cost_charge (
    id                 INTEGER PRIMARY KEY,
    institution_id     INTEGER NOT NULL REFERENCES institution(id),
    external_visit_id  TEXT NOT NULL,
    visit_date         TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('outpatient', 'inpatient', 'other')),
    total_fen          INTEGER NOT NULL CHECK (total_fen >= 0),
    insurance_paid_fen INTEGER NOT NULL CHECK (insurance_paid_fen >= 0),
    out_of_pocket_fen  INTEGER NOT NULL CHECK (out_of_pocket_fen >= 0),
    policy_oop_fen     INTEGER CHECK (policy_oop_fen >= 0),
    resident_id        INTEGER REFERENCES resident(id),
    division_code      TEXT REFERENCES division(code),
    id_card_enc        BLOB,
    id_card_hash       BLOB,
    patient_name       TEXT NOT NULL DEFAULT '',
    source             TEXT NOT NULL,
    matched_how        TEXT CHECK (matched_how IN ('resident_id', 'id_card', 'manual')),
    matched_by         INTEGER REFERENCES app_user(id),
    matched_at         TEXT,
    received_at        TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (institution_id, external_visit_id)
);
-- The monthly job reads a date range and groups by resident: this index covers it.
CREATE INDEX cost_charge_window ON cost_charge(visit_date, resident_id, total_fen, out_of_pocket_fen, policy_oop_fen);
CREATE INDEX cost_charge_resident ON cost_charge(resident_id, visit_date);
CREATE INDEX cost_charge_unmatched ON cost_charge(id) WHERE resident_id IS NULL;

CREATE TABLE cost_alert_rule (
    id            INTEGER PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE,
    name_zh       TEXT NOT NULL,
    name_en       TEXT NOT NULL DEFAULT '',
    population    TEXT NOT NULL CHECK (population IN ('poverty_or_monitored', 'others', 'everyone')),
    basis         TEXT NOT NULL CHECK (basis IN ('total', 'out_of_pocket', 'policy_out_of_pocket')),
    threshold_fen INTEGER NOT NULL CHECK (threshold_fen > 0),
    window_months INTEGER NOT NULL CHECK (window_months BETWEEN 1 AND 12),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    version       INTEGER NOT NULL DEFAULT 1,
    updated_by    INTEGER REFERENCES app_user(id),
    updated_at    TEXT NOT NULL
);

-- Every version of every rule, the first included: who set what, when.
CREATE TABLE cost_alert_rule_history (
    id            INTEGER PRIMARY KEY,
    rule_id       INTEGER NOT NULL REFERENCES cost_alert_rule(id),
    version       INTEGER NOT NULL,
    name_zh       TEXT NOT NULL,
    population    TEXT NOT NULL,
    basis         TEXT NOT NULL,
    threshold_fen INTEGER NOT NULL,
    window_months INTEGER NOT NULL,
    active        BOOLEAN NOT NULL,
    changed_by    INTEGER REFERENCES app_user(id),
    changed_at    TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    UNIQUE (rule_id, version)
);

-- One alert per resident, month and rule: re-running a month adds only what is new. The
-- rule's population, basis, threshold and window are copied as they were when it was
-- raised; division_code is the resident's village then (the township checks it).
CREATE TABLE cost_alert (
    id            INTEGER PRIMARY KEY,
    resident_id   INTEGER NOT NULL REFERENCES resident(id),
    month         TEXT NOT NULL,
    rule_id       INTEGER NOT NULL REFERENCES cost_alert_rule(id),
    division_code TEXT NOT NULL REFERENCES division(code),
    population    TEXT NOT NULL,
    basis         TEXT NOT NULL,
    threshold_fen INTEGER NOT NULL,
    window_months INTEGER NOT NULL,
    window_start  TEXT NOT NULL,
    window_end    TEXT NOT NULL,
    amount_fen    INTEGER NOT NULL,
    n_charges     INTEGER NOT NULL,
    status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'checking', 'closed')),
    outcome       TEXT,
    raised_at     TEXT NOT NULL,
    closed_at     TEXT,
    version       INTEGER NOT NULL DEFAULT 1,
    UNIQUE (resident_id, month, rule_id)
);
CREATE INDEX cost_alert_division ON cost_alert(division_code, month);
CREATE INDEX cost_alert_month ON cost_alert(month, status);

-- 入户核查: each visit to the household (action 'check') and each reopening by the county.
CREATE TABLE cost_alert_check (
    id          INTEGER PRIMARY KEY,
    alert_id    INTEGER NOT NULL REFERENCES cost_alert(id),
    action      TEXT NOT NULL CHECK (action IN ('check', 'reopen')),
    outcome     TEXT,
    note        TEXT NOT NULL DEFAULT '',
    checked_on  TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    checked_by  INTEGER REFERENCES app_user(id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX cost_alert_check_alert ON cost_alert_check(alert_id, id);

-- Each run of the monthly job: what it found and added.
CREATE TABLE cost_alert_run (
    id          INTEGER PRIMARY KEY,
    month       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    n_rules     INTEGER NOT NULL,
    n_hits      INTEGER NOT NULL,
    n_new       INTEGER NOT NULL,
    n_attached  INTEGER NOT NULL,
    by_user     INTEGER REFERENCES app_user(id),
    source      TEXT NOT NULL
);
