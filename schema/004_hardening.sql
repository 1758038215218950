-- earshot schema, version 4: what the aggregator refuses, and heartbeat overlaps.
--
--   * minute_stats.played_trimmed_ms: heartbeat audio not counted because it overlapped what the
--     listener had already reported (a second device, a player bug, a forged stack of
--     heartbeats; docs/metrics.md). Rows written before this version read 0.
--   * dead_letters: every Kafka record the aggregator could not apply as an event — one that
--     does not decode, carries impossible times, or hit a bug — with where it is and why, so that
--     it can be looked at and replayed; the partition moves on (docs/operations.md). One row per
--     (topic, partition, offset): reprocessing after a restart writes the same row again.

ALTER TABLE minute_stats ADD COLUMN IF NOT EXISTS played_trimmed_ms UInt64 DEFAULT 0;

CREATE TABLE IF NOT EXISTS dead_letters (
    topic      String,
    partition  UInt16,
    offset     Int64,
    reason     LowCardinality(String),
    detail     String,
    value      String,
    seen_at    DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset);
