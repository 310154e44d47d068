-- A ban also holds the banned person's account, if they were signed in, so
-- a new browser does not bring them back (issue 5 review).
ALTER TABLE room_bans ADD COLUMN account_id TEXT;
CREATE INDEX room_bans_account ON room_bans(room_id, account_id);
