-- Each process's heartbeat (a schedule entry or automation occurrence left
-- `running` by a process whose heartbeat stopped is run again within a
-- lease, from any host), when an account last published (its spacing holds
-- between processes), and one Story per media id: the SQLite SCHEMA's
-- `heartbeats`, `publish_leases.last_publish_at` and `stories_media_id`.
CREATE TABLE heartbeats (
    process TEXT PRIMARY KEY,
    alive_at TEXT NOT NULL
);
ALTER TABLE publish_leases ADD COLUMN last_publish_at TEXT;
UPDATE stories SET last_error = 'the same media id was recorded for another Story too; `storyforge ledger settle` finds which from the account', media_id = NULL
WHERE media_id IN (SELECT media_id FROM stories WHERE media_id IS NOT NULL GROUP BY media_id HAVING COUNT(*) > 1);
CREATE UNIQUE INDEX stories_media_id ON stories (media_id) WHERE media_id IS NOT NULL;
