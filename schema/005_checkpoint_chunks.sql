-- earshot schema, version 5: checkpoints written in chunks.
--
-- A partition's state is ~23 MiB at 1.3M listeners (make bench-night). Written as one row it was
-- whole in the aggregator's memory several times over (the state, the insert's column, the
-- request) and, on the development engine, one long insert that every partition's rows waited
-- behind. It is now written as a stream of chunks of at most 4 MiB, each its own insert, and a
-- row in `checkpoints` says where it is, written after its last chunk:
--
--   * checkpoint_chunks: chunk `chunk` of the state at `next_offset`. Each partition has two
--     slots and a checkpoint is written into the slot its newest complete checkpoint is not in,
--     so the rows it replaces (ReplacingMergeTree, newest next_offset per chunk) are never those
--     of the checkpoint a new owner would resume from, even if the write is cut short.
--   * checkpoints gets `chunks`, `slot` and `write_id`, and one row per (partition, slot):
--     chunks > 0 says the state is chunks 0 … chunks−1 of `slot` written by `write_id` (random,
--     one per attempt: two instances owning a partition for a moment in a rebalance can write
--     the same slot at the same offset, and a state must never be read from both). Rows of
--     earlier releases (chunks = 0) hold the state themselves, and still restore.

ALTER TABLE checkpoints ADD COLUMN IF NOT EXISTS chunks UInt32 DEFAULT 0, ADD COLUMN IF NOT EXISTS write_id UInt64 DEFAULT 0, ADD COLUMN IF NOT EXISTS slot UInt8, MODIFY ORDER BY (consumer_group, topic, partition, slot);

CREATE TABLE IF NOT EXISTS checkpoint_chunks (
    consumer_group String,
    topic          String,
    partition      UInt16,
    slot           UInt8,
    chunk          UInt32,
    next_offset    UInt64,
    write_id       UInt64,
    data           String
) ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (consumer_group, topic, partition, slot, chunk);
