-- CDC review of suspected food-borne disease cases (食源性疾病病例审核): every action on a
-- case, oldest first, and an optimistic-lock version on the case itself.
-- Rules: shared/domain.md §4-5. Keep in step with migrations/postgres/0012_foodborne_review.sql.

ALTER TABLE foodborne_case ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

CREATE TABLE foodborne_review (
    id          INTEGER PRIMARY KEY,
    case_id     INTEGER NOT NULL REFERENCES foodborne_case(id),
    action      TEXT NOT NULL CHECK (action IN ('accept', 'return', 'delete_duplicate', 'resubmit')),
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    by_user     INTEGER REFERENCES app_user(id),
    at          TEXT NOT NULL
);
CREATE INDEX foodborne_review_case ON foodborne_review(case_id, id);
