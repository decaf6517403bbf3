-- Radiology reports, mutual recognition (检查结果互认) and patients' share links (issue 8,
-- on top of 0013_imaging). Keep in step with migrations/postgres/0016_recognition.sql.

-- 影像诊断报告: every version of a study's report. Drafts and AI drafts are edited in place;
-- signing fixes a version; an amendment adds a new version and keeps the old one. The
-- current report is the highest version. `status` is the FHIR DiagnosticReport status
-- (registered = draft, preliminary = AI draft, final = signed, amended). `ai_model` names
-- the reading model a draft started from (provenance; NULL when a person wrote it all).
CREATE TABLE imaging_report (
    id            INTEGER PRIMARY KEY,
    study_id      INTEGER NOT NULL REFERENCES imaging_study(id),
    resident_id   INTEGER REFERENCES resident(id),
    version       INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('registered', 'preliminary', 'final', 'amended')),
    findings      TEXT NOT NULL DEFAULT '',
    impression    TEXT NOT NULL DEFAULT '',
    amend_reason  TEXT NOT NULL DEFAULT '',
    ai_model      TEXT,
    author_id     INTEGER REFERENCES app_user(id),
    signer_id     INTEGER REFERENCES app_user(id),
    signed_at     TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (study_id, version)
);
CREATE INDEX imaging_report_resident ON imaging_report(resident_id, status);
CREATE INDEX imaging_report_status ON imaging_report(status, updated_at);

-- 互认项目目录: the county's list of recognisable exam items. The seed below is local
-- practice (a county's list: validity windows and prices are illustrative of a Guangxi
-- county price list, not a national text); administrators change it. `yiwei restore`
-- clears this seed before loading a backup, which holds the county's own list.
-- `patient_share_permille`: the patient's share of the price (see
-- yiwei_domain::recognition::PriceSplit), the rest falls to the insurer and institution.
CREATE TABLE recognition_item (
    code                   TEXT PRIMARY KEY,
    name_zh                TEXT NOT NULL,
    name_en                TEXT NOT NULL,
    modality               TEXT NOT NULL,
    body_part              TEXT NOT NULL,
    validity_days          INTEGER NOT NULL CHECK (validity_days >= 0),
    price_fen              INTEGER NOT NULL CHECK (price_fen >= 0),
    patient_share_permille INTEGER NOT NULL CHECK (patient_share_permille BETWEEN 0 AND 1000),
    active                 BOOLEAN NOT NULL DEFAULT TRUE
);
INSERT INTO recognition_item VALUES
    ('DR-CHEST',   '胸部DR正位片',         'Chest radiograph (PA)',          'DX', 'CHEST',   30,  8000, 525, TRUE),
    ('DR-LSPINE',  '腰椎DR正侧位片',       'Lumbar spine radiograph (AP/lat)', 'DX', 'LSPINE',  90, 12000, 525, TRUE),
    ('CT-HEAD',    '头颅CT平扫',           'Head CT, plain',                 'CT', 'HEAD',    30, 18000, 525, TRUE),
    ('CT-CHEST',   '胸部CT平扫',           'Chest CT, plain',                'CT', 'CHEST',   30, 22000, 525, TRUE),
    ('CT-ABDOMEN', '上腹部CT平扫',         'Upper abdomen CT, plain',        'CT', 'ABDOMEN', 30, 26000, 525, TRUE),
    ('US-ABDOMEN', '腹部彩超（肝胆胰脾）', 'Abdominal ultrasound',           'US', 'ABDOMEN', 14, 16000, 525, TRUE),
    ('US-THYROID', '甲状腺彩超',           'Thyroid ultrasound',             'US', 'NECK',    30, 12000, 525, TRUE),
    ('MR-LSPINE',  '腰椎MRI平扫',          'Lumbar spine MRI, plain',        'MR', 'LSPINE',  90, 45000, 525, TRUE),
    ('MR-HEAD',    '头颅MRI平扫',          'Head MRI, plain',                'MR', 'HEAD',    90, 48000, 525, TRUE);

-- An institution's accreditation (质控评价合格) for an item, with the scope of its HR mark.
CREATE TABLE recognition_accreditation (
    id             INTEGER PRIMARY KEY,
    item_code      TEXT NOT NULL REFERENCES recognition_item(code),
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    hr_scope       TEXT NOT NULL,
    UNIQUE (item_code, institution_id)
);

-- 互认台账: one clinician decision on a recognisable prior result, made when ordering an
-- exam, booking an exam service or referring. `context` names where (order | booking |
-- referral, with its id where one exists). The price and its split are copied at the time
-- of the decision so later price changes do not rewrite the figures; a repeat saves 0.
CREATE TABLE recognition (
    id                        INTEGER PRIMARY KEY,
    resident_id               INTEGER NOT NULL REFERENCES resident(id),
    division_code             TEXT NOT NULL,
    item_code                 TEXT NOT NULL REFERENCES recognition_item(code),
    prior_study_id            INTEGER NOT NULL REFERENCES imaging_study(id),
    performing_institution_id INTEGER NOT NULL REFERENCES institution(id),
    ordering_institution_id   INTEGER NOT NULL REFERENCES institution(id),
    context                   TEXT NOT NULL CHECK (context IN ('order', 'booking', 'referral')),
    context_id                INTEGER,
    decision                  TEXT NOT NULL CHECK (decision IN ('recognised', 'repeated')),
    reason                    TEXT,
    note                      TEXT NOT NULL DEFAULT '',
    hr_scope                  TEXT NOT NULL,
    price_fen                 INTEGER NOT NULL,
    saved_patient_fen         INTEGER NOT NULL,
    saved_institution_fen     INTEGER NOT NULL,
    clinician_id              INTEGER REFERENCES app_user(id),
    decided_at                TEXT NOT NULL,
    period                    TEXT NOT NULL
);
CREATE INDEX recognition_period ON recognition(period, ordering_institution_id);
CREATE INDEX recognition_resident ON recognition(resident_id, decided_at);

-- 影像分享链接: a resident's time-limited link to one of their studies. Only keyed hashes of
-- the token and of the PIN are kept (the key is outside the database); `failures` counts
-- wrong PINs in a row and locks the link at the limit (yiwei_domain::share_link).
CREATE TABLE imaging_share_link (
    id             INTEGER PRIMARY KEY,
    study_id       INTEGER NOT NULL REFERENCES imaging_study(id),
    resident_id    INTEGER NOT NULL REFERENCES resident(id),
    token_hash     BLOB NOT NULL UNIQUE,
    pin_hash       BLOB NOT NULL,
    failures       INTEGER NOT NULL DEFAULT 0,
    n_opens        INTEGER NOT NULL DEFAULT 0,
    created_by     INTEGER REFERENCES app_user(id),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT,
    last_opened_at TEXT
);
CREATE INDEX imaging_share_link_resident ON imaging_share_link(resident_id, created_at);
