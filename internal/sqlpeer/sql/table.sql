-- The raw client events of one or more streams, as a team without earshot would keep them:
-- one row per event as received (copies included), trusted time (ts is the event time, unix ms).
-- Ordered by stream and listener so that a stream's per-listener windows read contiguous data.
CREATE TABLE {table:Identifier} (
    stream_id   String,
    listener_id String,
    event_id    String,
    type        LowCardinality(String),
    ts          Int64,   -- event time, unix milliseconds
    played_ms   UInt32,  -- heartbeat: audio rendered since the previous heartbeat; 0 otherwise
    muted       Bool
) ENGINE = MergeTree
ORDER BY (stream_id, listener_id, ts)
