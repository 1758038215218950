// Package report reads a stream's measured figures back from ClickHouse: the per-minute curve,
// peaks, cume, AQH and TSL, every distinct count with its 95 % interval.
//
// Distinct counts over a range merge each partition's minute sketches (the rows keep them), then
// add the partitions: a listener lives in one partition, so the partitions' sets are disjoint.
package report

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/sketch"
)

// Minute is one minute of a stream, all partitions together.
type Minute struct {
	Start                                       time.Time
	Connected, Hearing                          sketch.Count
	PeakConcurrent, PeakHearing                 uint64
	Joins, Leaves, Timeouts, Plays, Errors      uint64
	StartFailures, PlayedMS, MutedMS, StalledMS uint64
	// PlayedTrimmedMS: heartbeat audio not counted because it overlapped audio the listener had
	// already reported (docs/metrics.md, Overlaps): a second device, or forged stacks.
	PlayedTrimmedMS             uint64
	DisplayedMax, DisplayedLast uint64
	// Final: every partition's row of the minute is final (the correction horizon has passed
	// it, or the stream was closed); otherwise the minute may still change.
	HasDisplayed, Final    bool
	displayedLastAt        time.Time
	connPerSec, hearPerSec []uint64
}

// Stream is the report of one stream over a range.
type Stream struct {
	StreamID string
	From, To time.Time // first minute and the end of the last minute with data
	Minutes  []Minute

	PeakConcurrent, PeakHearing     uint64
	PeakConcurrentAt, PeakHearingAt time.Time
	CumeConnected, CumeHearing      sketch.Count
	CumeQualified                   sketch.Count
	// AQHPersons is the mean over the quarter hours from the first to the last with a
	// connected listener (Nielsen Audio).
	AQHPersons float64
	Quarters   map[time.Time]uint64
	// TSL is total unmuted played time per hearing listener.
	TSL                                    time.Duration
	PlayedMS, Joins, StartFailures, Errors uint64
	// PlayedTrimmedMS is the overlapping heartbeat audio that was not counted.
	PlayedTrimmedMS uint64
	// Authenticated and Listed count distinct listeners connected in the range from
	// listener_minutes, exactly: those authenticated by a signed listener ticket (from their first
	// ticket on, docs/operations.md), and all of them. Authenticated/Listed is the share of the
	// audience nobody could have invented with a public token.
	Authenticated, Listed uint64
	// Late, Duplicates and TooLate describe how the events arrived (delivery_stats), not the
	// audience: late ones were applied as corrections, copies dropped, too-late ones counted
	// and not applied.
	Late, Duplicates, TooLate uint64
	// FinalTo is the end of the run of final minutes the report starts with: every figure
	// before it is settled (zero: none is yet).
	FinalTo        time.Time
	DisplayedMax   uint64
	DisplayedMaxAt time.Time
	ErrorsByCode   map[string]uint64
}

// ErrNoData means the stream has no rows in the range.
var ErrNoData = errors.New("no data for this stream and time range")

// Load builds the report of stream over [from, to) (zero times: everything).
func Load(ctx context.Context, conn driver.Conn, stream string, from, to time.Time) (*Stream, error) {
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	rows, err := conn.Query(ctx, `SELECT minute, partition, connected_sketch, hearing_sketch, qualified_sketch,
			connected_per_sec, hearing_per_sec, joins, leaves, timeouts, plays, errors, start_failures,
			played_ms, muted_ms, stalled_ms, played_trimmed_ms, final,
			has_displayed, displayed_max, displayed_last, displayed_last_at, errors_by_code
		FROM minute_stats FINAL
		WHERE stream_id = ? AND minute >= ? AND minute < ?
		ORDER BY minute, partition`, stream, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read minute_stats: %w", err)
	}
	defer rows.Close()
	r := &Stream{StreamID: stream, Quarters: map[time.Time]uint64{}, ErrorsByCode: map[string]uint64{}}
	type partSets struct{ conn, hear, qual sketch.Set }
	cume := map[uint16]*partSets{}
	byMinute := map[time.Time]*Minute{}
	minuteParts := map[time.Time][]sketch.Count{}
	minuteHear := map[time.Time][]sketch.Count{}
	for rows.Next() {
		var (
			at                time.Time
			part              uint16
			cs, hs, qs        string
			connSec, hearSec  []uint32
			m                 Minute
			hasDisp, final    uint8
			dispMax, dispLast uint64
			dispAt            time.Time
			byCode            map[string]uint64
		)
		if err := rows.Scan(&at, &part, &cs, &hs, &qs, &connSec, &hearSec, &m.Joins, &m.Leaves, &m.Timeouts, &m.Plays, &m.Errors,
			&m.StartFailures, &m.PlayedMS, &m.MutedMS, &m.StalledMS, &m.PlayedTrimmedMS, &final,
			&hasDisp, &dispMax, &dispLast, &dispAt, &byCode); err != nil {
			return nil, err
		}
		var c, h, q sketch.Set
		for _, x := range []struct {
			s    *sketch.Set
			data string
		}{{&c, cs}, {&h, hs}, {&q, qs}} {
			if err := x.s.UnmarshalBinary([]byte(x.data)); err != nil {
				return nil, fmt.Errorf("minute %s partition %d: %w", at, part, err)
			}
		}
		ps := cume[part]
		if ps == nil {
			ps = &partSets{}
			cume[part] = ps
		}
		if err := errors.Join(ps.conn.Merge(&c), ps.hear.Merge(&h), ps.qual.Merge(&q)); err != nil {
			return nil, err
		}
		minuteParts[at] = append(minuteParts[at], c.Count())
		minuteHear[at] = append(minuteHear[at], h.Count())
		agg := byMinute[at]
		if agg == nil {
			agg = &Minute{Start: at.UTC(), connPerSec: make([]uint64, 60), hearPerSec: make([]uint64, 60), Final: true}
			byMinute[at] = agg
		}
		agg.Final = agg.Final && final == 1
		agg.Joins += m.Joins
		agg.Leaves += m.Leaves
		agg.Timeouts += m.Timeouts
		agg.Plays += m.Plays
		agg.Errors += m.Errors
		agg.StartFailures += m.StartFailures
		agg.PlayedMS += m.PlayedMS
		agg.MutedMS += m.MutedMS
		agg.StalledMS += m.StalledMS
		agg.PlayedTrimmedMS += m.PlayedTrimmedMS
		for i := range min(60, len(connSec)) {
			agg.connPerSec[i] += uint64(connSec[i])
		}
		for i := range min(60, len(hearSec)) {
			agg.hearPerSec[i] += uint64(hearSec[i])
		}
		if hasDisp == 1 {
			if !agg.HasDisplayed || dispMax > agg.DisplayedMax {
				agg.DisplayedMax = dispMax
			}
			if !agg.HasDisplayed || !dispAt.Before(agg.displayedLastAt) {
				agg.DisplayedLast, agg.displayedLastAt = dispLast, dispAt
			}
			agg.HasDisplayed = true
		}
		for k, v := range byCode {
			r.ErrorsByCode[k] += v
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(byMinute) == 0 {
		return nil, ErrNoData
	}
	var conns, hears, quals []sketch.Count
	for _, ps := range cume {
		conns = append(conns, ps.conn.Count())
		hears = append(hears, ps.hear.Count())
		quals = append(quals, ps.qual.Count())
	}
	r.CumeConnected, r.CumeHearing, r.CumeQualified = sketch.Sum(conns...), sketch.Sum(hears...), sketch.Sum(quals...)
	// Minutes in time order, so that a peak reached in several minutes is dated at its first
	// second (map order would pick one at random, and the report would change from run to run).
	starts := slices.SortedFunc(maps.Keys(byMinute), time.Time.Compare)
	for _, at := range starts {
		m := byMinute[at]
		m.Connected = sketch.Sum(minuteParts[at]...)
		m.Hearing = sketch.Sum(minuteHear[at]...)
		for i, v := range m.connPerSec {
			if v > m.PeakConcurrent {
				m.PeakConcurrent = v
			}
			if v > r.PeakConcurrent {
				r.PeakConcurrent, r.PeakConcurrentAt = v, at.Add(time.Duration(i)*time.Second)
			}
		}
		for i, v := range m.hearPerSec {
			if v > m.PeakHearing {
				m.PeakHearing = v
			}
			if v > r.PeakHearing {
				r.PeakHearing, r.PeakHearingAt = v, at.Add(time.Duration(i)*time.Second)
			}
		}
		r.Minutes = append(r.Minutes, *m)
		r.PlayedMS += m.PlayedMS
		r.PlayedTrimmedMS += m.PlayedTrimmedMS
		r.Joins += m.Joins
		r.StartFailures += m.StartFailures
		r.Errors += m.Errors
		if m.HasDisplayed && m.DisplayedMax > r.DisplayedMax {
			r.DisplayedMax, r.DisplayedMaxAt = m.DisplayedMax, at
		}
	}
	r.From = r.Minutes[0].Start
	r.To = r.Minutes[len(r.Minutes)-1].Start.Add(time.Minute)
	if r.CumeHearing.Value > 0 {
		r.TSL = time.Duration(float64(r.PlayedMS)/r.CumeHearing.Value) * time.Millisecond
	}
	for _, m := range r.Minutes {
		if !m.Final {
			break
		}
		r.FinalTo = m.Start.Add(time.Minute)
	}
	if err := r.loadAQH(ctx, conn, from, to); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, `SELECT sum(late), sum(duplicates), sum(too_late) FROM delivery_stats FINAL
		WHERE stream_id = ? AND minute >= ? AND minute < ?`, stream, from.UTC(), to.UTC()).Scan(&r.Late, &r.Duplicates, &r.TooLate); err != nil {
		return nil, fmt.Errorf("cannot read delivery_stats: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT uniqExactIf(listener, bitAnd(flags, 9) = 9), uniqExactIf(listener, bitAnd(flags, 1) = 1)
		FROM listener_minutes FINAL WHERE stream_id = ? AND minute >= ? AND minute < ?`, stream, from.UTC(), to.UTC()).Scan(&r.Authenticated, &r.Listed); err != nil {
		return nil, fmt.Errorf("cannot read listener_minutes: %w", err)
	}
	return r, nil
}

// loadAQH averages the AQH persons of the quarter hours from the first to the last with a
// connected listener in the range. A range that starts inside a quarter hour counts that
// quarter in the average and its persons too (who listened 5 minutes in the whole quarter).
func (r *Stream) loadAQH(ctx context.Context, conn driver.Conn, from, to time.Time) error {
	rows, err := conn.Query(ctx, `SELECT quarter, sum(aqh_persons) FROM quarter_stats FINAL
		WHERE stream_id = ? AND quarter >= ? AND quarter < ? GROUP BY quarter`, r.StreamID, from.UTC().Truncate(15*time.Minute), to.UTC())
	if err != nil {
		return fmt.Errorf("cannot read quarter_stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var q time.Time
		var n uint64
		if err := rows.Scan(&q, &n); err != nil {
			return err
		}
		r.Quarters[q.UTC()] = n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	first, last := time.Time{}, time.Time{}
	for _, m := range r.Minutes {
		if m.Connected.Value > 0 {
			q := m.Start.Truncate(15 * time.Minute)
			if first.IsZero() {
				first = q
			}
			last = q
		}
	}
	if first.IsZero() {
		return nil
	}
	var sum float64
	n := 0
	for q := first; !q.After(last); q = q.Add(15 * time.Minute) {
		sum += float64(r.Quarters[q])
		n++
	}
	r.AQHPersons = sum / float64(n)
	return nil
}

// At returns the minute holding t, if any.
func (r *Stream) At(t time.Time) (Minute, bool) {
	start := t.UTC().Truncate(time.Minute)
	i, ok := slices.BinarySearchFunc(r.Minutes, start, func(m Minute, t time.Time) int { return m.Start.Compare(t) })
	if !ok {
		return Minute{}, false
	}
	return r.Minutes[i], true
}

// HasDisplayed reports whether the platform's counter was seen.
func (r *Stream) HasDisplayed() bool {
	for _, m := range r.Minutes {
		if m.HasDisplayed {
			return true
		}
	}
	return false
}

// WaitFinal waits until the stream is closed in all `partitions` partitions of the events
// topic (an end event, `earshot streams close`, or a replay's idle time): every row of it is
// then final. Each partition writes its stream_clocks row when it closes the stream, including
// partitions that held none of its events.
func WaitFinal(ctx context.Context, conn driver.Conn, stream string, partitions int) error {
	for {
		var closed uint64
		err := conn.QueryRow(ctx, `SELECT countIf(closed = 1) FROM stream_clocks FINAL WHERE stream_id = ?`, stream).Scan(&closed)
		if err == nil && closed >= uint64(partitions) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q to be final in %d partitions (%d so far): %w", stream, partitions, closed, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}
