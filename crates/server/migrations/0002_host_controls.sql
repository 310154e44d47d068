-- Host controls and practitioner sessions (issue 5).
-- host_key: SHA-256 (hex) of the creator's device cookie; that browser is the host.
ALTER TABLE rooms ADD COLUMN host_key TEXT;
ALTER TABLE rooms ADD COLUMN waiting_room INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN mute_on_entry INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN self_unmute INTEGER NOT NULL DEFAULT 1;

-- A scheduled session: the room opens `opens_before_min` minutes before `starts_at` (unix seconds).
CREATE TABLE schedules (
    room_id          TEXT PRIMARY KEY NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    starts_at        INTEGER NOT NULL,
    duration_min     INTEGER NOT NULL,
    opens_before_min INTEGER NOT NULL DEFAULT 10
);

-- Devices banned from a room for good (SHA-256 of the device cookie).
CREATE TABLE room_bans (
    room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    device     TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, device)
);

-- The roster: personal invite tokens that skip the waiting room. Kept in
-- clear like room ids (the link is the key), so the host can copy them again.
CREATE TABLE room_invites (
    token      TEXT PRIMARY KEY NOT NULL,
    room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX room_invites_room ON room_invites(room_id);

-- Reports for the instance operator (`salon admin reports`). Not tied to the
-- room row, so a report outlives the room it is about.
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id     TEXT NOT NULL,
    room_name   TEXT NOT NULL,
    reporter    TEXT NOT NULL,
    target      TEXT,
    reason      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER
);
