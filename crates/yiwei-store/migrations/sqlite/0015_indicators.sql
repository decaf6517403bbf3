-- Maintained indicator aggregates (yiwei_store::indicator, docs/indicators.md).
-- Keep in step with migrations/postgres/0015_indicators.sql.
--
-- `indicator_value` holds one numerator and denominator per indicator, period
-- ('2025', '2025-Q1', '2025-03'), division (the village the facts belong to; a signal may
-- sit on a township) and breakdown ('' = all). Townships and the county are sums over the
-- division-code prefix range, never stored twice. Values of a closed period are frozen:
-- a later refresh writes what it finds into `indicator_difference` instead.

CREATE TABLE indicator_value (
    id             INTEGER PRIMARY KEY,
    indicator      TEXT NOT NULL,
    period         TEXT NOT NULL,
    division_code  TEXT NOT NULL,
    breakdown      TEXT NOT NULL DEFAULT '',
    numerator      INTEGER NOT NULL,
    denominator    INTEGER NOT NULL,
    computed_at    TEXT NOT NULL,
    source_version TEXT NOT NULL,
    UNIQUE (indicator, period, division_code, breakdown)
);
CREATE INDEX indicator_value_period ON indicator_value(period, indicator);

-- One row per source and period: when it was last computed and the fingerprint of the
-- facts it read, so an unchanged period is not recomputed.
CREATE TABLE indicator_refresh (
    source         TEXT NOT NULL,
    period         TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    source_version TEXT NOT NULL,
    computed_at    TEXT NOT NULL,
    PRIMARY KEY (source, period)
);

-- 关账: a period whose published figures must not change.
CREATE TABLE period_close (
    period    TEXT PRIMARY KEY,
    closed_at TEXT NOT NULL,
    closed_by INTEGER REFERENCES app_user(id),
    note      TEXT NOT NULL DEFAULT ''
);

-- What a refresh of a closed period found different from the frozen figures (the latest
-- refresh's findings; an empty set means the period still reproduces).
CREATE TABLE indicator_difference (
    id                 INTEGER PRIMARY KEY,
    indicator          TEXT NOT NULL,
    period             TEXT NOT NULL,
    division_code      TEXT NOT NULL,
    breakdown          TEXT NOT NULL DEFAULT '',
    frozen_numerator   INTEGER NOT NULL,
    frozen_denominator INTEGER NOT NULL,
    numerator          INTEGER NOT NULL,
    denominator        INTEGER NOT NULL,
    found_at           TEXT NOT NULL
);
CREATE INDEX indicator_difference_period ON indicator_difference(period, indicator);
