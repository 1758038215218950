-- earshot schema, version 1. Applied by `earshot migrate` (statements separated by ";" at line end).

-- One row per (stream, minute, aggregator partition). A listener lives in one partition, so a
-- minute's global figures are sums over partitions; `version` is the last Kafka offset folded
-- in, and ReplacingMergeTree keeps the highest: read with FINAL (or the views below).
CREATE TABLE IF NOT EXISTS minute_stats (
    stream_id          String,
    minute             DateTime('UTC'),
    partition          UInt16,
    version            UInt64,
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
    late               UInt64,
    duplicates         UInt64,
    too_late           UInt64,
    has_displayed      UInt8,
    displayed_max      UInt64,
    displayed_last     UInt64,
    displayed_last_at  DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(version)
ORDER BY (stream_id, minute, partition);

-- AQH persons per (stream, clock quarter hour, partition): listeners with >= 5 min of unmuted audio.
CREATE TABLE IF NOT EXISTS quarter_stats (
    stream_id   String,
    quarter     DateTime('UTC'),
    partition   UInt16,
    version     UInt64,
    aqh_persons UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (stream_id, quarter, partition);

-- What each listener did in each minute. Null engine: rows are not kept; the materialized view
-- folds them into uniqCombined64 states per (stream, minute), so SQL can count distinct
-- listeners over any minute-aligned range. Re-inserted rows (replays) change no state.
CREATE TABLE IF NOT EXISTS listener_minutes (
    stream_id String,
    minute    DateTime('UTC'),
    listener  UInt64,
    flags     UInt8,
    played_ms UInt32
) ENGINE = Null;

CREATE TABLE IF NOT EXISTS listener_minutes_agg (
    stream_id String,
    minute    DateTime('UTC'),
    connected AggregateFunction(uniqCombined64, UInt64),
    hearing   AggregateFunction(uniqCombined64, UInt64),
    qualified AggregateFunction(uniqCombined64, UInt64)
) ENGINE = AggregatingMergeTree
ORDER BY (stream_id, minute);

CREATE MATERIALIZED VIEW IF NOT EXISTS listener_minutes_mv TO listener_minutes_agg AS
SELECT
    stream_id,
    minute,
    uniqCombined64StateIf(listener, bitAnd(flags, 1) != 0) AS connected,
    uniqCombined64StateIf(listener, bitAnd(flags, 2) != 0) AS hearing,
    uniqCombined64StateIf(listener, bitAnd(flags, 4) != 0) AS qualified
FROM listener_minutes
GROUP BY stream_id, minute;

-- Raw records, for audits (uniqExact) and recomputation. (stream, partition, offset) is unique
-- per Kafka record, so replays collapse.
CREATE TABLE IF NOT EXISTS events_raw (
    stream_id       String,
    event_time      DateTime64(3, 'UTC'),
    received_at     DateTime64(3, 'UTC'),
    type            LowCardinality(String),
    listener        UInt64,
    fingerprint     UInt64,
    played_ms       UInt32,
    stalled_ms      UInt32,
    muted           UInt8,
    error_code      String,
    displayed_count UInt64,
    flags           UInt8,
    partition       UInt16,
    offset          UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (stream_id, partition, offset)
TTL toDateTime(received_at) + INTERVAL 90 DAY;

-- Aggregator checkpoints: the whole partition state after `next_offset - 1`.
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer_group String,
    topic          String,
    partition      UInt16,
    next_offset    UInt64,
    created_at     DateTime64(3, 'UTC'),
    state          String
) ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (consumer_group, topic, partition);

-- Public claims to check against what was measured (SPEC, Claims and verdicts).
CREATE TABLE IF NOT EXISTS claims (
    claim_id      String,
    stream_id     String,
    claimant      String,
    quote         String,
    claimed_value Float64,
    metric        LowCardinality(String),
    said_at       DateTime64(3, 'UTC'),
    source_url    String,
    added_at      DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(added_at)
ORDER BY (stream_id, claim_id);
