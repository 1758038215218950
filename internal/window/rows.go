package window

import (
	"errors"
	"fmt"
	"time"

	"github.com/earshot/earshot/internal/sketch"
)

// MinuteRow is one row of the minute_stats table: one stream, one minute, one partition.
// (stream, minute, partition) is its key and Version (the last Kafka offset folded in) decides
// which of several emissions wins: ReplacingMergeTree keeps the highest. Deleted rows (a minute
// that corrections left empty) disappear under FINAL.
type MinuteRow struct {
	Stream    string
	Minute    time.Time
	Partition uint16
	Version   uint64
	// Final: the correction horizon has passed the minute; no later row will change it.
	Final, Deleted bool

	Connected, Hearing             sketch.Count
	ConnectedSketch, HearingSketch []byte
	QualifiedSketch                []byte
	ConnectedPerSec, HearingPerSec []uint32

	Joins, Leaves, Timeouts, Plays, StartFailures, Errors uint64
	ErrorsByCode                                          map[string]uint64
	PlayedMS, MutedMS, StalledMS                          uint64
	PlayedTrimmedMS                                       uint64
	Qualified                                             uint64

	HasDisplayed                bool
	DisplayedMax, DisplayedLast uint64
	DisplayedLastAt             time.Time
}

// QuarterRow is one row of quarter_stats: the AQH persons (listeners with ≥ 5 minutes of
// unmuted audio in the clock quarter hour) one partition saw.
type QuarterRow struct {
	Stream         string
	Quarter        time.Time
	Partition      uint16
	Version        uint64
	Final, Deleted bool
	AQHPersons     uint64
}

// ListenerRow is one row of listener_minutes: whether one listener was connected, hearing or
// qualified (Flag* bits) in one minute. The table keeps the highest Version per (stream,
// minute, listener), so a row with fewer bits takes a listener out of a minute's distinct
// counts: SQL distinct counts over any minute range follow corrections too.
//
// It holds no pointers (the stream is an index into ListenerRows.Streams), so millions of them
// cost the garbage collector nothing to scan.
type ListenerRow struct {
	Minute   int64 // unix ms
	Listener uint64
	Version  uint64
	Stream   uint32
	Flags    uint8
}

// ListenerRows are listener rows with the stream ids they refer to.
type ListenerRows struct {
	Rows    []ListenerRow
	Streams []string
}

// Listener-minute flags, one per set kind.
const (
	FlagConnected = 1 << KindConnected
	FlagHearing   = 1 << KindHearing
	FlagQualified = 1 << KindQualified
	// FlagAuthenticated: the listener is connected in the minute and had sent an event with a
	// valid listener ticket (docs/operations.md) before the minute's end.
	FlagAuthenticated = 1 << Kinds
)

// DeliveryRow is one row of delivery_stats: how events of a stream arrived at one partition
// while the stream's clock was in one minute. Delivery is not an audience figure: it is kept
// apart so that every figure depends on the events alone.
type DeliveryRow struct {
	Stream    string
	Minute    time.Time
	Partition uint16
	Version   uint64
	// Late events were applied after their minute had been written (a correction);
	// Duplicates were copies of events already applied; TooLate arrived beyond the correction
	// horizon (not applied).
	Late, Duplicates, TooLate uint64
}

// ClockRow is one row of stream_clocks: how far one partition has come with a stream.
type ClockRow struct {
	Stream    string
	Partition uint16
	Version   uint64
	// Clock is the stream's clock; ClosedTo the end of its last provisional minute; FinalTo
	// the end of its last final minute (all unix ms). Closed: the stream was closed.
	Clock, ClosedTo, FinalTo int64
	Closed                   bool
}

// ErrNegative reports a counter that went below zero: a correction took back more than was
// added, which is a bug. The row is still written, with the counter at 0.
var ErrNegative = errors.New("negative counter")

// Row renders the minute for ClickHouse. It estimates the sketches (compacting them), so call
// it once per emission, never per event. Its sets must have been filled.
func (m *Minute) Row(partition uint16, version uint64) (MinuteRow, error) {
	r := MinuteRow{Stream: m.Stream, Minute: time.UnixMilli(m.Start).UTC(), Partition: partition, Version: version,
		Final: m.Final, Deleted: m.Empty()}
	var neg []string
	u := func(name string, v int64) uint64 {
		if v < 0 {
			neg = append(neg, fmt.Sprintf("%s %d", name, v))
			return 0
		}
		return uint64(v)
	}
	var err error
	if r.ConnectedSketch, err = m.Connected.MarshalBinary(); err != nil {
		return r, err
	}
	if r.HearingSketch, err = m.Hearing.MarshalBinary(); err != nil {
		return r, err
	}
	if r.QualifiedSketch, err = m.QualifiedSet.MarshalBinary(); err != nil {
		return r, err
	}
	r.Connected, r.Hearing = m.Connected.Count(), m.Hearing.Count()
	var negC, negH bool
	r.ConnectedPerSec, negC = perSecond(&m.ConnDiff)
	r.HearingPerSec, negH = perSecond(&m.HearDiff)
	if negC || negH {
		neg = append(neg, "per-second")
	}
	r.Joins, r.Leaves, r.Timeouts = u("joins", m.Joins), u("leaves", m.Leaves), u("timeouts", m.Timeouts)
	r.Plays, r.StartFailures, r.Errors = u("plays", m.Plays), u("start_failures", m.StartFailures), u("errors", m.Errors)
	r.PlayedMS, r.MutedMS, r.StalledMS = u("played_ms", m.PlayedMS), u("muted_ms", m.MutedMS), u("stalled_ms", m.StalledMS)
	r.PlayedTrimmedMS = u("played_trimmed_ms", m.TrimmedMS)
	r.Qualified = u("qualified", m.Qualified)
	r.ErrorsByCode = make(map[string]uint64, len(m.ErrorsByCode))
	for code, n := range m.ErrorsByCode {
		r.ErrorsByCode[code] = u("errors_by_code", n)
	}
	r.HasDisplayed, r.DisplayedMax, r.DisplayedLast = m.HasDisplayed, m.DisplayedMax, m.DisplayedLast
	r.DisplayedLastAt = time.UnixMilli(m.DisplayedLastAt).UTC()
	if len(neg) > 0 {
		return r, fmt.Errorf("%w in %s %s: %v", ErrNegative, m.Stream, r.Minute.Format(time.RFC3339), neg)
	}
	return r, nil
}
