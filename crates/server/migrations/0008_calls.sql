-- Calls (issue 17): a private room for the invited only. The room's id is
-- the call's id; the room is deleted with the caller (rooms.owner_id), and
-- the call with its room.

CREATE TABLE calls (
    room_id     TEXT PRIMARY KEY NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    caller_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- Unix milliseconds.
    created_at  INTEGER NOT NULL,
    -- When its last participant left; NULL while it may still be joined.
    ended_at    INTEGER
);
CREATE INDEX calls_caller ON calls(caller_id, created_at);

-- Each person called. state: ringing | accepted | declined | busy; a ring
-- older than the ring timeout (or of an ended call) still 'ringing' is a
-- missed call, so a restart loses no missed call and needs no timer.
CREATE TABLE call_invitees (
    room_id     TEXT NOT NULL REFERENCES calls(room_id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    -- Unix milliseconds of the (last) ring.
    rang_at     INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX call_invitees_user ON call_invitees(user_id, rang_at);
