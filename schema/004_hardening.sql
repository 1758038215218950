-- earshot schema, version 4: what the aggregator refuses, and heartbeat overlaps.
--
--   * minute_stats.played_trimmed_ms: heartbeat audio not counted because it overlapped what the
--     listener had already reported (a second device, a player bug, a forged stack of
--     heartbeats; docs/metrics.md). Rows written before this version read 0.
--   * listener_minutes.flags gets bit 3, authenticated: the listener is connected in the minute and
--     had sent an event with a valid signed listener ticket before the minute's end (no DDL).
--   * dead_letters: every Kafka record the aggregator could not apply as an event — one that
--     does not decode, carries impossible times, or hit a bug — with where it is and why, so that
--     it can be looked at and replayed; the partition moves on (docs/operations.md). One row per
--     (topic, partition, offset): reprocessing after a restart writes the same row again.

ALTER TABLE minute_stats ADD COLUMN IF NOT EXISTS played_trimmed_ms UInt64 DEFAULT 0;

-- stream_minutes as in version 3, with played_trimmed_ms last (readers that name columns or
-- read them in order keep working).
CREATE OR REPLACE VIEW stream_minutes AS
SELECT
    stream_id,
    minute,
    sum(s.connected)                                                          AS connected,
    greatest(0, sum(s.connected) - 1.959964 * sqrt(sum(pow((s.connected_hi - s.connected_lo) / 3.919928, 2)))) AS connected_lo,
    sum(s.connected) + 1.959964 * sqrt(sum(pow((s.connected_hi - s.connected_lo) / 3.919928, 2)))              AS connected_hi,
    min(s.connected_exact)                                                    AS connected_exact,
    sum(s.hearing)                                                            AS hearing,
    greatest(0, sum(s.hearing) - 1.959964 * sqrt(sum(pow((s.hearing_hi - s.hearing_lo) / 3.919928, 2))))       AS hearing_lo,
    sum(s.hearing) + 1.959964 * sqrt(sum(pow((s.hearing_hi - s.hearing_lo) / 3.919928, 2)))                    AS hearing_hi,
    min(s.hearing_exact)                                                      AS hearing_exact,
    arrayMax(sumForEach(s.connected_per_sec))                                 AS peak_concurrent,
    arrayMax(sumForEach(s.hearing_per_sec))                                   AS peak_concurrent_hearing,
    sumForEach(s.connected_per_sec)                                           AS connected_per_sec,
    sumForEach(s.hearing_per_sec)                                             AS hearing_per_sec,
    sum(s.joins)          AS joins,
    sum(s.leaves)         AS leaves,
    sum(s.timeouts)       AS timeouts,
    sum(s.plays)          AS plays,
    sum(s.start_failures) AS start_failures,
    sum(s.errors)         AS errors,
    sumMap(s.errors_by_code) AS errors_by_code,
    sum(s.played_ms)      AS played_ms,
    sum(s.muted_ms)       AS muted_ms,
    sum(s.stalled_ms)     AS stalled_ms,
    sum(s.qualified)      AS qualified_sessions,
    maxIf(s.displayed_max, s.has_displayed = 1)                       AS displayed_max,
    argMaxIf(s.displayed_last, s.displayed_last_at, s.has_displayed = 1) AS displayed_last,
    max(s.has_displayed)                                            AS has_displayed,
    min(s.final)                                                    AS final,
    sum(s.played_trimmed_ms) AS played_trimmed_ms
FROM minute_stats AS s FINAL
GROUP BY stream_id, minute;

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
