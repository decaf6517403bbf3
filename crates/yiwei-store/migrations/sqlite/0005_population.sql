-- 常住人口 per division and year: the denominator of 建档率, 签约率 and most coverage
-- indicators. It comes from the statistics bureau, not from the records, so it is entered
-- (or imported) per village, township or county; sums roll up where only villages are given.
CREATE TABLE division_population (
    id         INTEGER PRIMARY KEY,
    code       TEXT NOT NULL REFERENCES division(code),
    year       INTEGER NOT NULL,
    population INTEGER NOT NULL CHECK (population >= 0),
    UNIQUE (code, year)
);
