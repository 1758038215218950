// Package window holds the figures of one stream in one window of event time, as one
// aggregator partition sees them, and the rows they become in ClickHouse.
//
// Windows are aligned to event time (SPEC): minutes, rolled up to quarter hours, hours and
// the whole stream. Each row covers one (stream, minute, partition): a listener lives in one
// partition, so a minute's global counters are sums over partitions, and so are its distinct
// counts (disjoint sets); ranges merge each partition's sketches first.
package window

import (
	"time"

	"github.com/earshot/earshot/pkg/sketch"
)

// Window lengths in milliseconds.
const (
	MinuteMS  = 60_000
	QuarterMS = 15 * MinuteMS
)

// MinuteOf returns the start (unix ms) of the minute holding t.
func MinuteOf(t int64) int64 { return floorDiv(t, MinuteMS) * MinuteMS }

// QuarterOf returns the start (unix ms) of the clock quarter hour holding t.
func QuarterOf(t int64) int64 { return floorDiv(t, QuarterMS) * QuarterMS }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Listener-minute flags.
const (
	FlagConnected = 1 << iota
	FlagHearing
	FlagQualified
)

// Minute is one stream's minute in one partition. Counters are exact; Connected and Hearing
// are distinct sets of listener keys.
type Minute struct {
	Stream string
	Start  int64 // unix ms

	Connected, Hearing sketch.Set
	// QualifiedSet holds the listeners whose session became qualified in this minute; unions
	// over a range give cume_qualified.
	QualifiedSet sketch.Set
	// ConnDiff and HearDiff are difference arrays over the minute's 60 seconds: a listener
	// connected (hearing) at second s adds 1 to [s] and −1 to [s+1]. A listener counts at a
	// second when the second's midpoint lies in its session (its audible interval), so adjacent
	// intervals never count one listener twice.
	ConnDiff, HearDiff [61]int32

	Joins, Leaves, Timeouts, Plays, StartFailures uint64
	Errors                                        uint64
	ErrorsByCode                                  map[string]uint64
	PlayedMS, MutedMS, StalledMS                  uint64
	// Qualified counts sessions that reached the qualified threshold in this minute.
	Qualified uint64
	// Late counts events that arrived after their minute had been processed (applied as
	// corrections); Duplicates those dropped as repeated event ids; TooLate those whose minute
	// was no longer kept (counted where they arrived, not applied).
	Late, Duplicates, TooLate uint64

	HasDisplayed                bool
	DisplayedMax, DisplayedLast uint64
	DisplayedLastAt             int64
	Closed, Dirty               bool
	// ClosedAt is the wall-clock time the minute closed, for the close-to-visible metric; it
	// is in no row and no checkpoint decision.
	ClosedAt time.Time
}

// NewMinute returns an empty minute.
func NewMinute(stream string, start int64) *Minute {
	return &Minute{Stream: stream, Start: start}
}

// AddError counts one client error.
func (m *Minute) AddError(code string) {
	m.Errors++
	if m.ErrorsByCode == nil {
		m.ErrorsByCode = map[string]uint64{}
	}
	m.ErrorsByCode[code]++
}

// Displayed records the platform's displayed count at t.
func (m *Minute) Displayed(count uint64, t int64) {
	if !m.HasDisplayed || count > m.DisplayedMax {
		m.DisplayedMax = count
	}
	if !m.HasDisplayed || t >= m.DisplayedLastAt {
		m.DisplayedLast, m.DisplayedLastAt = count, t
	}
	m.HasDisplayed = true
}

// AddSeconds counts one listener at every second of this minute whose midpoint lies in
// [from, to) (unix ms) in diff.
func (m *Minute) AddSeconds(diff *[61]int32, from, to int64) {
	from -= m.Start
	to -= m.Start
	// second s counts when from ≤ 1000s+500 < to
	lo := ceilDiv(from-500, 1000)
	hi := ceilDiv(to-500, 1000) // exclusive
	lo, hi = max(lo, 0), min(hi, 60)
	if lo < hi {
		diff[lo]++
		diff[hi]--
	}
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// PerSecond turns a difference array into the 60 per-second counts.
func PerSecond(diff *[61]int32) []uint32 {
	out := make([]uint32, 60)
	var run int32
	for i := range out {
		run += diff[i]
		out[i] = uint32(max(run, 0))
	}
	return out
}
