-- The common part of minutes.sql and totals.sql (Go puts it in front of either): from the raw
-- events of one stream to each listener's sessions and unmuted audio intervals, by the SPEC's
-- definitions and in the order in which the aggregator's machine takes a listener's events
-- (internal/session/rules.go). Parameters: {table:Identifier}, {stream:String}, and
-- {until:Int64}: only events with ts < until (a live query sees the prefix that has arrived).
--
-- ev, sess and aud are read by several parts of each query. ClickHouse inlines a CTE at every
-- reference and computes it again, so they are MATERIALIZED (computed once into a temporary
-- table; setting enable_materialized_cte = 1, which the Go code passes). On an engine without
-- materialized CTEs, drop the keyword: the figures are the same, the queries about twice as slow.
WITH
-- One row per distinct event: copies (same stream, listener and event_id) count once. Of copies
-- that differ (a client bug) the least by (ts, type, played, muted) is taken, so the result
-- depends on the set of events only, never on which copy came first.
ev AS MATERIALIZED (
    SELECT l, e.1 AS t, e.2 AS rank, e.3 AS played, e.4 AS muted, t - played AS b
    FROM (
        SELECT listener_id AS l,
               -- rank is the machine's order of events at the same instant: a session is opened
               -- before anything happens in it, and a leave comes last.
               min((ts, multiIf(type = 'join', 0, type = 'play', 1, type = 'heartbeat', 2, type = 'error', 3, 4),
                    played_ms, muted)) AS e
        FROM {table:Identifier}
        WHERE stream_id = {stream:String} AND ts < {until:Int64}
          AND type IN ('join', 'play', 'heartbeat', 'error', 'leave')
        GROUP BY listener_id, event_id
    )
),
-- Events that begin (b: ts − played_ms for a heartbeat, ts otherwise) and end at the same
-- instant act together: j has a join, leaves a leave, starts something that opens a session
-- when none is live (join, play, heartbeat; an error alone starts none).
grp AS (
    SELECT l, b, t, max(rank = 0) AS j, max(rank = 4) AS leaves, max(rank <= 2) AS starts
    FROM ev
    GROUP BY l, b, t
),
-- A leave ends the listener's session; a join beside it, when a session was live before the
-- instant, opens the next one at once (the last heartbeat, a leave and a rejoin). Whether it was
-- live is only known further down, so every join-and-leave instant gets a virtual row v = 1 right
-- after it, which opens a session if and only if one was live (chain, below).
rowsv AS (
    SELECT l, b, t, v, if(v = 1, 0, leaves) AS lv, if(v = 1, 0, starts) AS s
    FROM grp
    ARRAY JOIN if(j AND leaves, [0, 1], [0]) AS v
),
-- seg: leaves cut a listener's rows into segments, each ending with its leave.
segs AS (
    SELECT *, sum(lv) OVER (PARTITION BY l ORDER BY b, t, v ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS seg
    FROM rowsv
),
-- brk: the session timeout. The session live before a row ends when its latest ts + 60 s is at
-- or before where the row begins; the running max of ts over the segment's earlier rows is that
-- latest ts (rows before the session started are errors no later than its start). Not
-- lagInFrame(t): rows are in the order they begin, and a heartbeat that began earlier can end
-- (ts) after the row that follows it.
brks AS (
    SELECT *,
           row_number() OVER (PARTITION BY l, seg ORDER BY b, t, v) = 1
               OR max(t) OVER (PARTITION BY l, seg ORDER BY b, t, v ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 60000 <= b AS brk
    FROM segs
),
-- island: the rows between two timeouts of a segment; each holds at most one session, from its
-- first row that opens one.
islands AS (
    SELECT *, sum(brk) OVER (PARTITION BY l, seg ORDER BY b, t, v ROWS UNBOUNDED PRECEDING) AS island
    FROM brks
),
-- live: was a session live just before a segment's leave? Yes if a row of its island opened one
-- before it; no after a timeout; and when the only candidate is the segment's virtual row, it is
-- what it was before the previous leave (NULL: inherit).
lives AS (
    SELECT *,
           if(lv = 0, NULL,
              if(brk, toNullable(0),
                 if(sum(s) OVER (PARTITION BY l, seg, island ORDER BY b, t, v ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) > 0, toNullable(1),
                    if(max(v) OVER (PARTITION BY l, seg, island) = 1, NULL, toNullable(0))))) AS live
    FROM islands
),
-- A virtual row opens a session if one was live before its leave: the last known answer of the
-- chain of leaves (anyLast skips the NULLs).
chain AS (
    SELECT *,
           if(v = 1, ifNull(anyLast(live) OVER (PARTITION BY l ORDER BY b, t, v ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), s) AS opens
    FROM lives
),
-- Sessions [s_start, s_end): from the island's first opening row (a heartbeat opens at ts −
-- played_ms, so the audio it reports lies inside); to the segment's leave when the island holds
-- it, or 60 s after the latest ts otherwise.
sess AS MATERIALIZED (
    SELECT l,
           minIf(b, opens = 1) AS s_start,
           if(max(lv) = 1, maxIf(t, lv = 1), greatest(maxIf(t, lv = 0), s_start) + 60000) AS s_end
    FROM chain
    GROUP BY l, seg, island
    HAVING max(opens) = 1
),
-- Unmuted audio: each heartbeat's [ts − played_ms, ts), cut to begin where the listener's earlier
-- unmuted audio ended (a second device, a player bug: the same seconds are not counted twice).
-- The intervals of one listener are then disjoint.
aud AS MATERIALIZED (
    SELECT l, a_from, t AS a_to
    FROM (
        SELECT l, t,
               greatest(b, max(t) OVER (PARTITION BY l ORDER BY b, t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) AS a_from
        FROM ev
        WHERE rank = 2 AND played > 0 AND NOT muted
    )
    WHERE a_from < a_to
),
-- hear: (listener, minute) with at least 2 000 ms of unmuted audio inside the minute, each
-- heartbeat's audio split across minutes in proportion to the overlap. Minutes are unix ms / 60 000.
hear AS (
    SELECT l, m
    FROM (
        SELECT l, arrayJoin(range(intDiv(a_from, 60000), intDiv(a_to - 1, 60000) + 1)) AS m,
               least(a_to, (m + 1) * 60000) - greatest(a_from, m * 60000) AS ms
        FROM aud
    )
    GROUP BY l, m
    HAVING sum(ms) >= 2000
),
-- Per-second counts: a listener counts at second s when the second's midpoint s·1000 + 500 lies
-- in its session (its audio interval): +1 at ceil((from − 500) / 1000), −1 at ceil((to − 500) /
-- 1000), so adjacent intervals never count one listener twice (internal/window AddSeconds).
-- k = 0: connected (sessions), 1: hearing (audio). (ts are positive: intDiv's truncation floors.)
bounds AS (
    SELECT k, sec, d
    FROM (
        SELECT 0 AS k, intDiv(s_start + 499, 1000) AS lo, intDiv(s_end + 499, 1000) AS hi FROM sess
        UNION ALL
        SELECT 1 AS k, intDiv(a_from + 499, 1000) AS lo, intDiv(a_to + 499, 1000) AS hi FROM aud
    )
    ARRAY JOIN [lo, hi] AS sec, [1, -1] AS d
    WHERE lo < hi
),
-- The running sum of the ±1 boundaries is the count from each second where it changes on, up to
-- the next such second (leadInFrame): the minutes it spans get it as a candidate for their peak,
-- so a minute in which the count does not change still gets the count it holds.
persec AS (
    SELECT k, sec, n, if(nxt = 0, sec + 1, nxt) AS upto
    FROM (
        SELECT k, sec,
               sum(d) OVER (PARTITION BY k ORDER BY sec ROWS UNBOUNDED PRECEDING) AS n,
               leadInFrame(sec) OVER (PARTITION BY k ORDER BY sec ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS nxt
        FROM (SELECT k, sec, sum(d) AS d FROM bounds GROUP BY k, sec)
    )
),
-- peaks: the largest per-second count of each minute (minute = unix ms / 60 000), by kind.
peaks AS (
    SELECT k, m, max(n) AS peak
    FROM persec
    ARRAY JOIN range(intDiv(sec, 60), intDiv(upto - 1, 60) + 1) AS m
    GROUP BY k, m
)
