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
type ListenerRow struct {
	Stream   string
	Minute   time.Time
	Listener uint64
	Flags    uint8
	PlayedMS uint32
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

// ListenerRows renders the minute's listener rows.
func (m *Minute) ListenerRows(dst []ListenerRow) []ListenerRow {
	at := time.UnixMilli(m.Start).UTC()
	for k, lm := range m.Listeners {
		dst = append(dst, ListenerRow{Stream: m.Stream, Minute: at, Listener: k, Flags: lm.Flags, PlayedMS: lm.PlayedMS})
	}
	return dst
}
