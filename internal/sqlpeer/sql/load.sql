-- Loads an NDJSON file of client events (pkg/client.Event, what `earshot replay` reads) with the
-- file() table function: the development engine is chDB in the same process as the HTTP adapter,
-- on this machine, so it reads the path directly. A ClickHouse server reads only below its
-- user_files_path; there one would pipe the file to `clickhouse-client --query "INSERT INTO t
-- FORMAT JSONEachRow"` (with this SELECT's conversions as an INSERT ... SELECT FROM input()).
--
-- ts is read as text: clients may send unix ms or RFC 3339 (SPEC, Events). Other fields (sent_at,
-- client, ticket, stalled_ms, ...) are skipped: the events are trusted time, ts is the event time. Events the collector
-- would reject in a way that matters to the figures are not loaded: unknown types, a missing
-- listener (except displayed and end), a heartbeat without played_ms or with more than 10 minutes
-- (event.MaxIntervalMS).
INSERT INTO {table:Identifier} (stream_id, listener_id, event_id, type, ts, played_ms, muted)
SELECT stream_id,
       ifNull(listener_id, ''),
       event_id,
       type,
       if(match(ts, '^-?[0-9]+$'), toInt64(ts), toUnixTimestamp64Milli(parseDateTime64BestEffort(ts, 3, 'UTC'))),
       if(type = 'heartbeat', toUInt32(assumeNotNull(played_ms)), 0),
       ifNull(muted, false)
FROM file({path:String}, 'JSONEachRow',
          'event_id String, type String, stream_id String, listener_id Nullable(String), ts String, played_ms Nullable(Int64), muted Nullable(Bool)')
WHERE type IN ('join', 'leave', 'heartbeat', 'play', 'error', 'displayed', 'end')
  AND (type IN ('displayed', 'end') OR ifNull(listener_id, '') != '')
  AND (type != 'heartbeat' OR (played_ms IS NOT NULL AND played_ms BETWEEN 0 AND 600000))
SETTINGS input_format_json_read_numbers_as_strings = 1, input_format_skip_unknown_fields = 1
