-- Analyst views: one row per stream and minute, summed over aggregator partitions.
-- Distinct counts of a minute are sums over partitions (disjoint listeners); their 95 % bounds
-- combine the partitions' errors in quadrature.
CREATE VIEW IF NOT EXISTS stream_minutes AS
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
    sum(s.late)           AS late,
    sum(s.duplicates)     AS duplicates,
    sum(s.too_late)       AS too_late,
    maxIf(s.displayed_max, s.has_displayed = 1)                       AS displayed_max,
    argMaxIf(s.displayed_last, s.displayed_last_at, s.has_displayed = 1) AS displayed_last,
    max(s.has_displayed)                                            AS has_displayed
FROM minute_stats AS s FINAL
GROUP BY stream_id, minute;

CREATE VIEW IF NOT EXISTS stream_quarters AS
SELECT stream_id, quarter, sum(q.aqh_persons) AS aqh_persons
FROM quarter_stats AS q FINAL
GROUP BY stream_id, quarter;

-- Hourly rollup: distinct listeners per clock hour (merged uniqCombined64 states, not a sum of
-- minutes), peak concurrency and the hour's counters.
CREATE VIEW IF NOT EXISTS stream_hours AS
SELECT
    a.stream_id                            AS stream_id,
    toStartOfHour(a.minute)                AS hour,
    uniqCombined64Merge(a.connected)       AS connected,
    uniqCombined64Merge(a.hearing)         AS hearing,
    uniqCombined64Merge(a.qualified)       AS qualified
FROM listener_minutes_agg AS a
GROUP BY stream_id, hour;
