-- Online booking and two-way referral (预约挂号, 双向转诊; shared/domain.md §9,
-- yiwei_domain::booking and yiwei_domain::referral). Keep in step with
-- migrations/postgres/0011_booking.sql.
--
-- Capacity is kept by the database, not by a lock in a process: `slot.booked` is raised by
-- `UPDATE slot SET booked = booked + 1 WHERE id = $1 AND booked < $seats` inside the
-- booking's transaction, the CHECK below refuses any write that would pass `capacity`, and
-- the partial unique index `booking_active_resident` refuses a second active booking of
-- one resident on one slot. The counter and the booking rows change in one transaction, so
-- a crash leaves either both or neither. Seats are not numbered: a numbered seat would have
-- to be found again after cancellations, and the counter already says all that matters.

-- 排班: one institution's department (and optionally one doctor) offering one service.
-- `sessions` holds one session per line in yiwei_domain::booking::Session's compact form
-- ("mon 08:00-11:30 15x3"); `holidays` the closed dates, comma-separated.
CREATE TABLE schedule (
    id                     INTEGER PRIMARY KEY,
    institution_id         INTEGER NOT NULL REFERENCES institution(id),
    department             TEXT NOT NULL,
    doctor_id              INTEGER REFERENCES app_user(id),
    service                TEXT NOT NULL CHECK (service IN ('outpatient', 'exam', 'vaccination')),
    name                   TEXT NOT NULL,
    sessions               TEXT NOT NULL,
    holidays               TEXT NOT NULL DEFAULT '',
    horizon_days           INTEGER NOT NULL DEFAULT 7,
    booking_cutoff_minutes INTEGER NOT NULL DEFAULT 30,
    cancel_cutoff_minutes  INTEGER NOT NULL DEFAULT 120,
    max_reschedules        INTEGER NOT NULL DEFAULT 2,
    green_reserved         INTEGER NOT NULL DEFAULT 0,
    active                 BOOLEAN NOT NULL DEFAULT TRUE,
    created_by             INTEGER REFERENCES app_user(id),
    created_at             TEXT NOT NULL,
    version                INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX schedule_institution ON schedule(institution_id, active);

-- 号源. `local_date` is the county's calendar date of `starts_at` (for the horizon rule and
-- day lists); `institution_id` is copied from the schedule for per-institution figures.
CREATE TABLE slot (
    id             INTEGER PRIMARY KEY,
    schedule_id    INTEGER NOT NULL REFERENCES schedule(id),
    institution_id INTEGER NOT NULL REFERENCES institution(id),
    starts_at      TEXT NOT NULL,
    ends_at        TEXT NOT NULL,
    local_date     TEXT NOT NULL,
    capacity       INTEGER NOT NULL CHECK (capacity > 0),
    green_reserved INTEGER NOT NULL DEFAULT 0 CHECK (green_reserved >= 0),
    booked         INTEGER NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    CHECK (booked >= 0 AND booked <= capacity),
    UNIQUE (schedule_id, starts_at)
);
CREATE INDEX slot_institution_start ON slot(institution_id, starts_at);
CREATE INDEX slot_schedule_date ON slot(schedule_id, local_date);

-- 预约. Never deleted: a cancellation, a no-show and a move keep the row with its status.
CREATE TABLE booking (
    id               INTEGER PRIMARY KEY,
    slot_id          INTEGER NOT NULL REFERENCES slot(id),
    resident_id      INTEGER NOT NULL REFERENCES resident(id),
    division_code    TEXT NOT NULL,
    institution_id   INTEGER NOT NULL REFERENCES institution(id),
    status           TEXT NOT NULL CHECK (status IN ('booked', 'cancelled', 'attended', 'no_show')),
    channel          TEXT NOT NULL CHECK (channel IN ('staff', 'resident', 'green_channel', 'waitlist')),
    reschedules      INTEGER NOT NULL DEFAULT 0,
    rescheduled_from INTEGER REFERENCES booking(id),
    booked_by        INTEGER REFERENCES app_user(id),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    cancel_reason    TEXT,
    version          INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX booking_active_resident ON booking(slot_id, resident_id) WHERE status = 'booked';
CREATE INDEX booking_resident ON booking(resident_id, id);
CREATE INDEX booking_institution ON booking(institution_id, status);

-- 候补: a resident waiting for a seat on a date of a schedule; a cancellation books the
-- oldest waiting entry into the freed seat in the same transaction.
CREATE TABLE waitlist (
    id            INTEGER PRIMARY KEY,
    schedule_id   INTEGER NOT NULL REFERENCES schedule(id),
    local_date    TEXT NOT NULL,
    resident_id   INTEGER NOT NULL REFERENCES resident(id),
    division_code TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('waiting', 'booked', 'cancelled')),
    booking_id    INTEGER REFERENCES booking(id),
    created_by    INTEGER REFERENCES app_user(id),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX waitlist_one_waiting ON waitlist(schedule_id, local_date, resident_id) WHERE status = 'waiting';
CREATE INDEX waitlist_queue ON waitlist(schedule_id, local_date, status, id);

-- 转诊. `attachments` is a JSON array of {"type": "encounter"|"study", "id"}; `booking_id`
-- the green-channel booking at the receiving end; `parent_id` links the downward referral
-- a return creates to the upward one it ends.
CREATE TABLE referral (
    id                  INTEGER PRIMARY KEY,
    resident_id         INTEGER NOT NULL REFERENCES resident(id),
    division_code       TEXT NOT NULL,
    from_institution_id INTEGER NOT NULL REFERENCES institution(id),
    to_institution_id   INTEGER NOT NULL REFERENCES institution(id),
    direction           TEXT NOT NULL CHECK (direction IN ('up', 'down')),
    urgency             TEXT NOT NULL CHECK (urgency IN ('routine', 'urgent', 'emergency')),
    reason              TEXT NOT NULL,
    summary             TEXT NOT NULL,
    attachments         TEXT NOT NULL DEFAULT '[]',
    green_channel       BOOLEAN NOT NULL DEFAULT FALSE,
    state               TEXT NOT NULL CHECK (state IN ('requested', 'accepted', 'declined', 'arrived',
                            'completed', 'returned', 'cancelled', 'expired')),
    requested_by        INTEGER REFERENCES app_user(id),
    requested_at        TEXT NOT NULL,
    respond_by          TEXT NOT NULL,
    accepted_at         TEXT,
    closed_at           TEXT,
    decline_reason      TEXT,
    return_summary      TEXT,
    booking_id          INTEGER REFERENCES booking(id),
    parent_id           INTEGER REFERENCES referral(id),
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX referral_incoming ON referral(to_institution_id, state, id);
CREATE INDEX referral_outgoing ON referral(from_institution_id, state, id);
CREATE INDEX referral_resident ON referral(resident_id, state);

-- Every move of a referral, for its history and timeliness figures.
CREATE TABLE referral_event (
    id          INTEGER PRIMARY KEY,
    referral_id INTEGER NOT NULL REFERENCES referral(id),
    event       TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    note        TEXT,
    by_user     INTEGER REFERENCES app_user(id),
    at          TEXT NOT NULL
);
CREATE INDEX referral_event_referral ON referral_event(referral_id, id);

-- Confirmations, cancellations and reminders go to the `outbox` of migration 0007 (topic
-- `booking_*`, dedupe key `booking:<id>:<kind>`); reminders are queued the day before by
-- `yiwei_store::booking::queue_reminders`, since the outbox has no send time.
