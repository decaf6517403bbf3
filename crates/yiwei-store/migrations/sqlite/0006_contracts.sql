-- Family-doctor teams, service packages and contracts (家庭医生签约服务; shared/domain.md §2,
-- yiwei_domain::contract). Keep in step with migrations/postgres/0006_contracts.sql.
--
-- A contract row is never deleted or rewritten into another: renewal and transfer end the
-- old row and insert a new one, linked by `replaced_by`, so the history of who served a
-- resident stays readable and the indicators can be computed for any past date.
-- `ends_on` is the last day in force; `ended_on` the last day of a contract stopped early.

CREATE TABLE fd_team (
    id             INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    name           TEXT NOT NULL,
    lead_user_id   INTEGER REFERENCES app_user(id),
    created_at     TEXT NOT NULL,
    active         BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (institution_id, name)
);

CREATE TABLE fd_team_member (
    id      INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES fd_team(id),
    user_id INTEGER NOT NULL REFERENCES app_user(id),
    role    TEXT NOT NULL CHECK (role IN
                ('lead', 'doctor', 'nurse', 'public_health', 'village_doctor', 'specialist')),
    UNIQUE (team_id, user_id)
);
CREATE INDEX fd_team_member_user ON fd_team_member(user_id);

-- The villages a team serves (its 服务区域).
CREATE TABLE fd_team_village (
    id            INTEGER PRIMARY KEY,
    team_id       INTEGER NOT NULL REFERENCES fd_team(id),
    division_code TEXT NOT NULL REFERENCES division(code),
    UNIQUE (team_id, division_code)
);
CREATE INDEX fd_team_village_division ON fd_team_village(division_code);

-- Service packages; `items` is a JSON array of {"code", "per_year"}, read and written whole.
CREATE TABLE service_package (
    id        INTEGER PRIMARY KEY,
    code      TEXT NOT NULL UNIQUE,
    name      TEXT NOT NULL,
    name_en   TEXT NOT NULL DEFAULT '',
    kind      TEXT NOT NULL CHECK (kind IN ('basic', 'paid')),
    price_fen INTEGER NOT NULL DEFAULT 0 CHECK (price_fen >= 0),
    items     TEXT NOT NULL DEFAULT '[]',
    active    BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE contract (
    id            INTEGER PRIMARY KEY,
    resident_id   INTEGER NOT NULL REFERENCES resident(id),
    division_code TEXT NOT NULL REFERENCES division(code),   -- the resident's village at signing
    team_id       INTEGER NOT NULL REFERENCES fd_team(id),
    doctor_id     INTEGER NOT NULL REFERENCES app_user(id),
    package_id    INTEGER NOT NULL REFERENCES service_package(id),
    status        TEXT NOT NULL CHECK (status IN ('active', 'ended', 'terminated', 'transferred')),
    starts_on     TEXT NOT NULL,
    ends_on       TEXT NOT NULL,
    ended_on      TEXT,
    signed_at     TEXT NOT NULL,
    signature     TEXT NOT NULL,        -- JSON: on paper + witness, and/or a drawn image (data URL)
    ended_reason  TEXT,
    -- Deferred: a renewal's new row has a higher id, and a restore loads rows in id order.
    replaced_by   INTEGER REFERENCES contract(id) DEFERRABLE INITIALLY DEFERRED,
    created_by    INTEGER REFERENCES app_user(id),
    created_at    TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,
    CHECK (ends_on >= starts_on)
);
-- One active contract per resident (one family doctor at a time, domain.md §2). The store
-- checks it inside the signing transaction too, to answer with a clear message.
CREATE UNIQUE INDEX contract_one_active ON contract(resident_id) WHERE status = 'active';
CREATE INDEX contract_resident ON contract(resident_id, starts_on);
CREATE INDEX contract_team ON contract(team_id, status);
CREATE INDEX contract_division ON contract(division_code, starts_on);
CREATE INDEX contract_replaced_by ON contract(replaced_by) WHERE replaced_by IS NOT NULL;

-- 履约: the services delivered under a contract.
CREATE TABLE contract_service (
    id           INTEGER PRIMARY KEY,
    contract_id  INTEGER NOT NULL REFERENCES contract(id),
    item_code    TEXT NOT NULL,
    delivered_on TEXT NOT NULL,
    encounter_id INTEGER REFERENCES encounter(id),
    recorded_by  INTEGER REFERENCES app_user(id),
    recorded_at  TEXT NOT NULL
);
CREATE INDEX contract_service_contract ON contract_service(contract_id, delivered_on);
