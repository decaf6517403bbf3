-- Residents (居民健康档案, WS 365-2011 个人基本信息表), households and the master patient index.
-- Coded fields hold the standard's codes (see yiwei_domain::ws365); lists and the
-- structured history groups live in `profile`, a JSON object, because they are read and
-- written as a whole with the record and never searched by the database.

CREATE TABLE household (
    id               INTEGER PRIMARY KEY,
    division_code    TEXT NOT NULL REFERENCES division(code),
    address          TEXT NOT NULL DEFAULT '',
    head_resident_id INTEGER,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX household_division ON household(division_code);

ALTER TABLE resident ADD COLUMN record_no TEXT;
ALTER TABLE resident ADD COLUMN household_id INTEGER REFERENCES household(id);
ALTER TABLE resident ADD COLUMN relation TEXT;
ALTER TABLE resident ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE resident ADD COLUMN residence_type TEXT;
ALTER TABLE resident ADD COLUMN ethnicity TEXT;
ALTER TABLE resident ADD COLUMN blood_abo TEXT;
ALTER TABLE resident ADD COLUMN blood_rh TEXT;
ALTER TABLE resident ADD COLUMN education TEXT;
ALTER TABLE resident ADD COLUMN occupation TEXT;
ALTER TABLE resident ADD COLUMN marital TEXT;
ALTER TABLE resident ADD COLUMN payment TEXT NOT NULL DEFAULT '';
ALTER TABLE resident ADD COLUMN key_groups TEXT NOT NULL DEFAULT '';
ALTER TABLE resident ADD COLUMN no_id_reason TEXT;
ALTER TABLE resident ADD COLUMN contact_name TEXT;
ALTER TABLE resident ADD COLUMN contact_phone_enc BLOB;
ALTER TABLE resident ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';
ALTER TABLE resident ADD COLUMN merged_into INTEGER REFERENCES resident(id);
ALTER TABLE resident ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE UNIQUE INDEX resident_record_no ON resident(record_no) WHERE record_no IS NOT NULL;
CREATE INDEX resident_household ON resident(household_id);
CREATE INDEX resident_birth ON resident(birth_date);

-- Search keys of a name: the normalised hanzi, every pinyin reading and the initials.
CREATE TABLE resident_name_key (
    key         TEXT NOT NULL,
    resident_id INTEGER NOT NULL REFERENCES resident(id),
    PRIMARY KEY (key, resident_id)
);
CREATE INDEX resident_name_key_resident ON resident_name_key(resident_id);

-- Candidate pairs in the grey band of the match score, for a person to decide.
CREATE TABLE match_review (
    id           INTEGER PRIMARY KEY,
    resident_id  INTEGER NOT NULL REFERENCES resident(id),
    candidate_id INTEGER NOT NULL REFERENCES resident(id),
    score        REAL NOT NULL,
    explanation  TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'open',   -- open | merged | distinct
    created_at   TEXT NOT NULL,
    decided_by   INTEGER REFERENCES app_user(id),
    decided_at   TEXT,
    UNIQUE (resident_id, candidate_id)
);
CREATE INDEX match_review_state ON match_review(state, id);

-- Merges with the merged record's state before the merge, so a merge can be undone.
CREATE TABLE resident_merge (
    id          INTEGER PRIMARY KEY,
    survivor_id INTEGER NOT NULL REFERENCES resident(id),
    merged_id   INTEGER NOT NULL REFERENCES resident(id),
    score       REAL,
    reason      TEXT NOT NULL,
    by_user     INTEGER REFERENCES app_user(id),
    at          TEXT NOT NULL,
    undone_by   INTEGER REFERENCES app_user(id),
    undone_at   TEXT
);
CREATE INDEX resident_merge_merged ON resident_merge(merged_id);
