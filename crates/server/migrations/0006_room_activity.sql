-- When someone last entered the room (unix seconds): rooms idle for
-- --room-expiry-days are deleted with their invites (store/expiry.rs).
ALTER TABLE rooms ADD COLUMN last_active_at INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET last_active_at = created_at;
CREATE INDEX rooms_last_active ON rooms (last_active_at);
