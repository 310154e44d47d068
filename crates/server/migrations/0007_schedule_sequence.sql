-- The .ics SEQUENCE of a scheduled session: 0 when scheduled, one more at
-- each change, so calendars replace the event they hold (RFC 5545 §3.8.7.4).
ALTER TABLE schedules ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
