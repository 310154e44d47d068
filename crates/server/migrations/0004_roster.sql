-- The room's roster of accounts (issue 5): a practitioner's registered
-- clients, who skip the waiting room when signed in.
CREATE TABLE room_roster (
    room_id    TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, account_id)
);
