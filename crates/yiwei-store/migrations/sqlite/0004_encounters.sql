-- Encounters (就诊/服务记录) from any institution of the county, one timeline per resident,
-- and the 健康体检表 (国家基本公共卫生服务规范 第三版) of the health-exam encounters.
-- Every row carries the village code of the resident at the time (design.md: every
-- personal record carries its village), so aggregates by village are range scans even
-- after the resident moves. The figures that rules and indicators read (blood pressure,
-- BMI, fasting glucose …) are typed columns; the rest of the form (symptoms, lifestyle,
-- organ function, findings, other auxiliary exams, problems, hospitalisations,
-- medications, vaccinations, evaluation, guidance) is read and written as a whole and
-- lives in `sections`, a JSON object.

CREATE TABLE encounter (
    id             INTEGER PRIMARY KEY,
    resident_id    INTEGER NOT NULL REFERENCES resident(id),
    division_code  TEXT NOT NULL REFERENCES division(code),
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    author_id      INTEGER REFERENCES app_user(id),
    kind           TEXT NOT NULL CHECK (kind IN
                       ('health_exam', 'outpatient', 'inpatient', 'follow_up', 'home_visit', 'other')),
    started_at     TEXT NOT NULL,
    summary        TEXT NOT NULL DEFAULT '',
    diagnoses      TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    created_at     TEXT NOT NULL
);
CREATE INDEX encounter_resident ON encounter(resident_id, started_at);
CREATE INDEX encounter_division ON encounter(division_code, started_at);

CREATE TABLE health_exam (
    encounter_id         INTEGER PRIMARY KEY REFERENCES encounter(id),
    exam_date            TEXT NOT NULL,
    temperature          REAL,   -- °C
    pulse                REAL,   -- per minute
    respiration          REAL,   -- per minute
    bp_left_sys          REAL,   -- mmHg
    bp_left_dia          REAL,
    bp_right_sys         REAL,
    bp_right_dia         REAL,
    height_cm            REAL,
    weight_kg            REAL,
    waist_cm             REAL,
    bmi                  REAL,   -- kg/m², computed from height and weight
    fasting_glucose_mmol REAL,   -- mmol/L
    self_care            TEXT,   -- 老年人生活自理能力自我评估 code
    cognition            TEXT,   -- 老年人认知功能 code
    emotion              TEXT,   -- 老年人情感状态 code
    sections             TEXT NOT NULL DEFAULT '{}'
);

-- A timeline includes the encounters of records merged into the one shown.
CREATE INDEX IF NOT EXISTS resident_merged_into ON resident(merged_into) WHERE merged_into IS NOT NULL;
