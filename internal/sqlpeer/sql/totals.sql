-- The whole stream (common.sql in front): distinct listeners with a session, distinct listeners
-- hearing in some minute, and the largest per-second counts.
SELECT toUInt64((SELECT uniqExact(l) FROM sess)) AS cume_connected,
       toUInt64((SELECT uniqExact(l) FROM hear)) AS cume_hearing,
       toUInt64((SELECT maxIf(n, k = 0) FROM persec)) AS peak_concurrent,
       toUInt64((SELECT maxIf(n, k = 1) FROM persec)) AS peak_concurrent_hearing
