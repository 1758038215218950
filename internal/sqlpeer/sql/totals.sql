-- The whole stream (common.sql in front): distinct listeners with a session, distinct listeners
-- hearing in some minute, and the largest per-second counts. One SELECT over a UNION ALL rather
-- than scalar subqueries: the engine then computes each common part once.
SELECT toUInt64(sum(cc)) AS cume_connected, toUInt64(sum(ch)) AS cume_hearing,
       toUInt64(max(pc)) AS peak_concurrent, toUInt64(max(ph)) AS peak_concurrent_hearing
FROM (
    SELECT uniqExact(l) AS cc, 0 AS ch, 0 AS pc, 0 AS ph FROM sess
    UNION ALL
    SELECT 0, uniqExact(l), 0, 0 FROM hear
    UNION ALL
    SELECT 0, 0, maxIf(n, k = 0), maxIf(n, k = 1) FROM persec
)
