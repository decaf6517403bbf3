-- Match weights a county trained on its own residents (`yiwei empi train`,
-- yiwei_store::empi::save_weights). Keep in step with migrations/postgres/0009_match_weights.sql.
--
-- Rows are only added: the matcher uses the newest, and the older ones are the history of
-- what the county linked with. `weights` is JSON: per field, `m` and `u` of the levels
-- exact, close and disagree. `review` and `link` are the thresholds in bits that follow
-- from `prior`, the estimated probability that two residents drawn at random are one person.

CREATE TABLE match_weights (
    id            INTEGER PRIMARY KEY,
    trained_at    TEXT NOT NULL,
    trained_by    INTEGER REFERENCES app_user(id),
    residents     INTEGER NOT NULL,
    random_pairs  INTEGER NOT NULL,
    blocked_pairs INTEGER NOT NULL,
    prior         REAL NOT NULL CHECK (prior > 0 AND prior < 1),
    review        REAL NOT NULL,
    link          REAL NOT NULL CHECK (link >= review),
    weights       TEXT NOT NULL
);
