-- Per minute of the stream (common.sql in front): connected (distinct listeners whose session
-- touches the minute, its first instant included), hearing (distinct listeners with ≥ 2 000 ms
-- of unmuted audio inside it), and the largest per-second counts of both within it.
-- minute is the minute's start in unix ms; minutes where every figure is 0 are left out.
SELECT toInt64(m * 60000) AS minute, toUInt64(sum(c)) AS connected, toUInt64(sum(h)) AS hearing,
       toUInt64(max(pc)) AS peak_concurrent, toUInt64(max(ph)) AS peak_concurrent_hearing
FROM (
    SELECT m, uniqExact(l) AS c, 0 AS h, 0 AS pc, 0 AS ph
    FROM (SELECT l, arrayJoin(range(intDiv(s_start, 60000), intDiv(greatest(s_start, s_end - 1), 60000) + 1)) AS m FROM sess)
    GROUP BY m
    UNION ALL
    SELECT m, 0, count(), 0, 0 FROM hear GROUP BY m
    UNION ALL
    SELECT m, 0, 0, if(k = 0, peak, 0), if(k = 1, peak, 0) FROM peaks
)
GROUP BY m
HAVING connected + hearing + peak_concurrent + peak_concurrent_hearing > 0
ORDER BY m
