-- The imaging cloud's index (影像云索引, issue 8): studies, series and instances received
-- over DICOMweb STOW-RS. The DICOM files themselves live in the blob store (yiwei-dicom
-- `BlobStore`, under `blob_key`); these tables hold what QIDO-RS matches on, what WADO-RS
-- needs to find the files, and the DICOM JSON metadata of each instance (PS3.18 F.2,
-- without bulk data) so that a study's metadata is one indexed read, not a file per
-- instance. Keep in step with migrations/postgres/0013_imaging.sql.
--
-- Every row carries the study's `resident_id` (NULL until the master patient index links
-- it) and a `division_code`: the resident's village when linked, else the division of the
-- sending institution, so that reach by subtree works for unmatched studies too. Linking a
-- study later rewrites both on the study, its series and its instances in one transaction.
--
-- ID-card numbers are never stored in plain text here: a PatientID or OtherPatientIDs value
-- that is a valid 居民身份证号 is kept only as its keyed hash (`id_card_hash`, the same HMAC
-- as resident.id_card_hash), and `patient_id` then holds the masked form.

-- 检查 (study). `match_state`: linked (by the master patient index, at or above the link
-- threshold), manual (linked by a person), review (grey band: `match_candidates` holds the
-- candidates as JSON [{"resident_id":…,"score":…}], best first) or unmatched (no candidate).
CREATE TABLE imaging_study (
    id                  INTEGER PRIMARY KEY,
    study_uid           TEXT NOT NULL UNIQUE,
    resident_id         INTEGER REFERENCES resident(id),
    division_code       TEXT NOT NULL,
    institution_id      INTEGER NOT NULL REFERENCES institution(id),
    match_state         TEXT NOT NULL CHECK (match_state IN ('linked', 'manual', 'review', 'unmatched')),
    match_score         REAL,
    match_candidates    TEXT NOT NULL DEFAULT '[]',
    patient_id          TEXT NOT NULL DEFAULT '',
    id_card_hash        BLOB,
    patient_name        TEXT NOT NULL DEFAULT '',
    patient_birth_date  TEXT,
    patient_sex         TEXT NOT NULL DEFAULT '',
    study_date          TEXT,
    study_time          TEXT NOT NULL DEFAULT '',
    accession_number    TEXT NOT NULL DEFAULT '',
    study_id            TEXT NOT NULL DEFAULT '',
    description         TEXT NOT NULL DEFAULT '',
    referring_physician TEXT NOT NULL DEFAULT '',
    institution_name    TEXT NOT NULL DEFAULT '',
    modalities          TEXT NOT NULL DEFAULT '',
    body_parts          TEXT NOT NULL DEFAULT '',
    n_series            INTEGER NOT NULL DEFAULT 0,
    n_instances         INTEGER NOT NULL DEFAULT 0,
    size_bytes          INTEGER NOT NULL DEFAULT 0,
    referral_id         INTEGER REFERENCES referral(id),
    booking_id          INTEGER REFERENCES booking(id),
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
-- QIDO-RS: newest first, and each matching key its own index.
CREATE INDEX imaging_study_date ON imaging_study(study_date, id);
CREATE INDEX imaging_study_resident ON imaging_study(resident_id, study_date);
CREATE INDEX imaging_study_patient_id ON imaging_study(patient_id);
CREATE INDEX imaging_study_id_card ON imaging_study(id_card_hash);
CREATE INDEX imaging_study_name ON imaging_study(patient_name);
CREATE INDEX imaging_study_accession ON imaging_study(accession_number);
CREATE INDEX imaging_study_division ON imaging_study(division_code, study_date);
CREATE INDEX imaging_study_institution ON imaging_study(institution_id, study_date);
CREATE INDEX imaging_study_match ON imaging_study(match_state, id);

-- 序列 (series).
CREATE TABLE imaging_series (
    id             INTEGER PRIMARY KEY,
    study_id       INTEGER NOT NULL REFERENCES imaging_study(id),
    series_uid     TEXT NOT NULL UNIQUE,
    resident_id    INTEGER REFERENCES resident(id),
    division_code  TEXT NOT NULL,
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    modality       TEXT NOT NULL DEFAULT '',
    body_part      TEXT NOT NULL DEFAULT '',
    series_number  INTEGER,
    description    TEXT NOT NULL DEFAULT '',
    n_instances    INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL
);
CREATE INDEX imaging_series_study ON imaging_series(study_id, series_number);
CREATE INDEX imaging_series_modality ON imaging_series(modality, study_id);

-- 图像 (instance): one DICOM Part 10 file in the blob store.
CREATE TABLE imaging_instance (
    id              INTEGER PRIMARY KEY,
    series_id       INTEGER NOT NULL REFERENCES imaging_series(id),
    study_id        INTEGER NOT NULL REFERENCES imaging_study(id),
    sop_uid         TEXT NOT NULL UNIQUE,
    sop_class_uid   TEXT NOT NULL,
    resident_id     INTEGER REFERENCES resident(id),
    division_code   TEXT NOT NULL,
    institution_id  INTEGER NOT NULL REFERENCES institution(id),
    instance_number INTEGER,
    transfer_syntax TEXT NOT NULL,
    n_rows          INTEGER,
    n_columns       INTEGER,
    n_frames        INTEGER NOT NULL DEFAULT 1,
    size_bytes      INTEGER NOT NULL,
    sha256          TEXT NOT NULL,
    blob_key        TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    stored_by       INTEGER REFERENCES app_user(id),
    created_at      TEXT NOT NULL
);
CREATE INDEX imaging_instance_series ON imaging_instance(series_id, instance_number, id);
CREATE INDEX imaging_instance_study ON imaging_instance(study_id, id);

-- 共享: a study shared with another institution (for a consultation, a referral); the
-- receiving institution is tied to the resident (`Tie::Study`) until `expires_at`.
CREATE TABLE imaging_share (
    id             INTEGER PRIMARY KEY,
    study_id       INTEGER NOT NULL REFERENCES imaging_study(id),
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    reason         TEXT NOT NULL DEFAULT '',
    shared_by      INTEGER REFERENCES app_user(id),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL
);
CREATE INDEX imaging_share_study ON imaging_share(study_id);
CREATE INDEX imaging_share_institution ON imaging_share(institution_id, expires_at);
