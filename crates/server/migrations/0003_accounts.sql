-- Accounts, sessions, friendships, blocks, and room ownership (issue 4).
-- Ids are 128 random bits, base64url, like room ids: never guessable.

CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
    -- Stored lower-case; unique without regard to case.
    username       TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    bio            TEXT NOT NULL DEFAULT '',
    -- argon2id PHC string.
    password_hash  TEXT NOT NULL,
    -- Random id of the current avatar (its URL); NULL: none.
    avatar_id      TEXT UNIQUE,
    avatar_png     BLOB,
    created_at     INTEGER NOT NULL
);

-- Only the SHA-256 of a session token is kept: a leaked database holds no live token.
CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- A pending request from -> to.
CREATE TABLE friend_requests (
    from_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    to_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (from_id, to_id)
);
CREATE INDEX friend_requests_to ON friend_requests(to_id);

-- One row per friendship, stored both ways (a_id, b_id) and (b_id, a_id), so
-- "friends of X" is one indexed lookup.
CREATE TABLE friendships (
    a_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    b_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (a_id, b_id)
);

CREATE TABLE blocks (
    blocker_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    blocked_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks(blocked_id);

-- Rooms of an account die with it; anonymous rooms have no owner.
ALTER TABLE rooms ADD COLUMN owner_id TEXT REFERENCES users(id) ON DELETE CASCADE;
-- 'private' (link only) or 'public' (in the owner's friends' tray while open).
ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private';
CREATE INDEX rooms_owner ON rooms(owner_id);
