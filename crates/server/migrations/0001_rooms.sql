-- Rooms created by link. The id is 128 random bits, base64url: the link is the key.
CREATE TABLE rooms (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
