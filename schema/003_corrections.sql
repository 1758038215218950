-- earshot schema, version 3: figures that depend only on the events (docs/time.md).
--
-- A late event re-derives its listener and the affected rows are *replaced* (a higher version),
-- never added to; rows say when they are final. So:
--   * minute_stats and quarter_stats get `final` and `deleted` (a minute that corrections left
--     empty is deleted: ReplacingMergeTree's is_deleted column drops it under FINAL), and lose
--     the delivery counters, which move to delivery_stats;
--   * listener_minutes keeps one row per (stream, minute, listener) with the listener's newest
--     flags, so SQL distinct counts over any range follow corrections (uniqCombined64 states
--     cannot forget a listener); listener_minutes_agg becomes a view over it, with the same
--     columns, and still serves the states written before this version;
--   * stream_clocks says, per stream and partition, up to where rows are final.
-- Rows written before this version are kept and marked final.

RENAME TABLE minute_stats TO minute_stats_v1;

CREATE TABLE minute_stats (
    stream_id          String,
    minute             DateTime('UTC'),
    partition          UInt16,
    version            UInt64,
    final              UInt8,
    deleted            UInt8,
    connected          Float64,
    connected_lo       Float64,
    connected_hi       Float64,
    connected_exact    UInt8,
    hearing            Float64,
    hearing_lo         Float64,
    hearing_hi         Float64,
    hearing_exact      UInt8,
    connected_sketch   String,
    hearing_sketch     String,
    qualified_sketch   String,
    sketch_version     UInt8,
    sketch_precision   UInt8,
    connected_per_sec  Array(UInt32),
    hearing_per_sec    Array(UInt32),
    joins              UInt64,
    leaves             UInt64,
    timeouts           UInt64,
    plays              UInt64,
    start_failures     UInt64,
    errors             UInt64,
    errors_by_code     Map(String, UInt64),
    played_ms          UInt64,
    muted_ms           UInt64,
    stalled_ms         UInt64,
    qualified          UInt64,
    has_displayed      UInt8,
    displayed_max      UInt64,
    displayed_last     UInt64,
    displayed_last_at  DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (stream_id, minute, partition);

INSERT INTO minute_stats
SELECT stream_id, minute, partition, version, 1, 0, connected, connected_lo, connected_hi, connected_exact,
       hearing, hearing_lo, hearing_hi, hearing_exact, connected_sketch, hearing_sketch, qualified_sketch,
       sketch_version, sketch_precision, connected_per_sec, hearing_per_sec, joins, leaves, timeouts, plays,
       start_failures, errors, errors_by_code, played_ms, muted_ms, stalled_ms, qualified,
       has_displayed, displayed_max, displayed_last, displayed_last_at
FROM minute_stats_v1 FINAL;

RENAME TABLE quarter_stats TO quarter_stats_v1;

CREATE TABLE quarter_stats (
    stream_id   String,
    quarter     DateTime('UTC'),
    partition   UInt16,
    version     UInt64,
    final       UInt8,
    deleted     UInt8,
    aqh_persons UInt64
) ENGINE = ReplacingMergeTree(version, deleted)
ORDER BY (stream_id, quarter, partition);

INSERT INTO quarter_stats
SELECT stream_id, quarter, partition, version, 1, 0, aqh_persons FROM quarter_stats_v1 FINAL;

-- How events arrived: per stream, partition and minute of the stream's clock when they came.
-- Not audience figures: they depend on the delivery, the figures do not.
CREATE TABLE IF NOT EXISTS delivery_stats (
    stream_id  String,
    minute     DateTime('UTC'),
    partition  UInt16,
    version    UInt64,
    late       UInt64,
    duplicates UInt64,
    too_late   UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (stream_id, minute, partition);

INSERT INTO delivery_stats
SELECT stream_id, minute, partition, version, late, duplicates, too_late
FROM minute_stats_v1 FINAL WHERE late + duplicates + too_late > 0;

-- Per stream and partition: the stream's clock, the end of its last provisional (closed) minute
-- and of its last final one, and whether it was closed. A stream's rows are final up to
-- min(final_to) over the partitions that hold it.
CREATE TABLE IF NOT EXISTS stream_clocks (
    stream_id String,
    partition UInt16,
    version   UInt64,
    clock     DateTime64(3, 'UTC'),
    closed_to DateTime('UTC'),
    final_to  DateTime('UTC'),
    closed    UInt8
) ENGINE = ReplacingMergeTree(version)
ORDER BY (stream_id, partition);

DROP VIEW IF EXISTS stream_hours;

DROP TABLE IF EXISTS listener_minutes_mv;

RENAME TABLE listener_minutes_agg TO listener_minutes_agg_v1;

DROP TABLE IF EXISTS listener_minutes;

-- One row per (stream, minute, listener): flags bit 0 connected, 1 hearing, 2 qualified. The
-- newest version wins; a row without flags takes the listener out of the minute.
CREATE TABLE listener_minutes (
    stream_id String,
    minute    DateTime('UTC'),
    listener  UInt64,
    flags     UInt8,
    version   UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (stream_id, minute, listener);

CREATE VIEW listener_minutes_agg AS
SELECT
    stream_id,
    minute,
    uniqCombined64StateIf(listener, bitAnd(flags, 1) != 0) AS connected,
    uniqCombined64StateIf(listener, bitAnd(flags, 2) != 0) AS hearing,
    uniqCombined64StateIf(listener, bitAnd(flags, 4) != 0) AS qualified
FROM listener_minutes FINAL
GROUP BY stream_id, minute
UNION ALL
SELECT stream_id, minute, connected, hearing, qualified FROM listener_minutes_agg_v1;

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
    min(s.final)                                                    AS final
FROM minute_stats AS s FINAL
GROUP BY stream_id, minute;

CREATE OR REPLACE VIEW stream_quarters AS
SELECT stream_id, quarter, sum(q.aqh_persons) AS aqh_persons, min(q.final) AS final
FROM quarter_stats AS q FINAL
GROUP BY stream_id, quarter;

-- Delivery per stream and minute of the stream's clock, partitions summed.
CREATE VIEW IF NOT EXISTS stream_delivery AS
SELECT stream_id, minute, sum(late) AS late, sum(duplicates) AS duplicates, sum(too_late) AS too_late
FROM delivery_stats FINAL
GROUP BY stream_id, minute;

-- Hourly rollup: distinct listeners per clock hour (merged uniqCombined64 states, not a sum of
-- minutes).
CREATE VIEW stream_hours AS
SELECT
    a.stream_id                            AS stream_id,
    toStartOfHour(a.minute)                AS hour,
    uniqCombined64Merge(a.connected)       AS connected,
    uniqCombined64Merge(a.hearing)         AS hearing,
    uniqCombined64Merge(a.qualified)       AS qualified
FROM listener_minutes_agg AS a
GROUP BY stream_id, hour
