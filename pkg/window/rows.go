package window

import (
	"time"

	"github.com/earshot/earshot/pkg/sketch"
)

// MinuteRow is one row of the minute_stats table: one stream, one minute, one partition.
// (stream, minute, partition) is its key and Version (the last Kafka offset folded in) decides
// which of several emissions wins: ReplacingMergeTree keeps the highest.
type MinuteRow struct {
	Stream    string
	Minute    time.Time
	Partition uint16
	Version   uint64

	Connected, Hearing             sketch.Count
	ConnectedSketch, HearingSketch []byte
	QualifiedSketch                []byte
	ConnectedPerSec, HearingPerSec []uint32

	Joins, Leaves, Timeouts, Plays, StartFailures, Errors uint64
	ErrorsByCode                                          map[string]uint64
	PlayedMS, MutedMS, StalledMS                          uint64
	Qualified, Late, Duplicates, TooLate                  uint64

	HasDisplayed                bool
	DisplayedMax, DisplayedLast uint64
	DisplayedLastAt             time.Time
}

// QuarterRow is one row of quarter_stats: the AQH persons (listeners with ≥ 5 minutes of
// unmuted audio in the clock quarter hour) one partition saw.
type QuarterRow struct {
	Stream     string
	Quarter    time.Time
	Partition  uint16
	Version    uint64
	AQHPersons uint64
}

// ListenerRow is one row of listener_minutes: what one listener did in one minute. The table
// is a Null engine; a materialized view keeps uniqCombined64 states per (stream, minute), so
// SQL alone can count distinct listeners over any minute-aligned range.
//
// It holds no pointers (the stream is an index into ListenerRows.Streams), so millions of them
// cost the garbage collector nothing to scan.
type ListenerRow struct {
	Minute   int64 // unix ms
	Listener uint64
	PlayedMS uint32
	Stream   uint32
	Flags    uint8
}

// ListenerRows are listener rows with the stream ids they refer to.
type ListenerRows struct {
	Rows    []ListenerRow
	Streams []string
}

// Row renders the minute for ClickHouse. It estimates the sketches (compacting them), so call
// it once per emission, never per event.
func (m *Minute) Row(partition uint16, version uint64) (MinuteRow, error) {
	cs, err := m.Connected.MarshalBinary()
	if err != nil {
		return MinuteRow{}, err
	}
	hs, err := m.Hearing.MarshalBinary()
	if err != nil {
		return MinuteRow{}, err
	}
	qs, err := m.QualifiedSet.MarshalBinary()
	if err != nil {
		return MinuteRow{}, err
	}
	r := MinuteRow{
		Stream: m.Stream, Minute: time.UnixMilli(m.Start).UTC(), Partition: partition, Version: version,
		Connected: m.Connected.Count(), Hearing: m.Hearing.Count(),
		ConnectedSketch: cs, HearingSketch: hs, QualifiedSketch: qs,
		ConnectedPerSec: PerSecond(&m.ConnDiff), HearingPerSec: PerSecond(&m.HearDiff),
		Joins: m.Joins, Leaves: m.Leaves, Timeouts: m.Timeouts, Plays: m.Plays, StartFailures: m.StartFailures,
		Errors: m.Errors, ErrorsByCode: m.ErrorsByCode, PlayedMS: m.PlayedMS, MutedMS: m.MutedMS, StalledMS: m.StalledMS,
		Qualified: m.Qualified, Late: m.Late, Duplicates: m.Duplicates, TooLate: m.TooLate,
		HasDisplayed: m.HasDisplayed, DisplayedMax: m.DisplayedMax, DisplayedLast: m.DisplayedLast,
		DisplayedLastAt: time.UnixMilli(m.DisplayedLastAt).UTC(),
	}
	if r.ErrorsByCode == nil {
		r.ErrorsByCode = map[string]uint64{}
	}
	return r, nil
}
