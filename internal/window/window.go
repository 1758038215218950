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

	"github.com/earshot/earshot/internal/sketch"
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

// Set kinds of a minute: the three distinct sets a listener can be a member of.
const (
	KindConnected = iota
	KindHearing
	KindQualified
	Kinds
)

// Minute is one stream's minute in one partition. Counters are exact and signed: a listener
// whose events are derived again has its old contribution subtracted and its new one added
// (docs/time.md), so only a minute's final value must be non-negative. Connected, Hearing and
// QualifiedSet are distinct sets of listener keys.
type Minute struct {
	Stream string
	Start  int64 // unix ms

	//
	// The sets are filled when the minute is written (the aggregator keeps who is in which
	// minute elsewhere, as bits that corrections can clear) and emptied after.
	Connected, Hearing sketch.Set
	// QualifiedSet holds the listeners whose session became qualified in this minute; unions
	// over a range give cume_qualified.
	QualifiedSet sketch.Set
	// ConnDiff and HearDiff are difference arrays over the minute's 60 seconds: a listener
	// connected (hearing) at second s adds 1 to [s] and −1 to [s+1]. A listener counts at a
	// second when the second's midpoint lies in its session (its audible interval), so adjacent
	// intervals never count one listener twice.
	ConnDiff, HearDiff [61]int32

	Joins, Leaves, Timeouts, Plays, StartFailures int64
	Errors                                        int64
	ErrorsByCode                                  map[string]int64
	PlayedMS, MutedMS, StalledMS                  int64
	// TrimmedMS: heartbeat ms not counted because they overlapped what the listener's session
	// had already reported (session: trim).
	TrimmedMS int64
	// Qualified counts sessions that reached the qualified threshold in this minute.
	Qualified int64

	HasDisplayed                bool
	DisplayedMax, DisplayedLast uint64
	DisplayedLastAt             int64

	// Closed: the stream's clock passed the minute's end (plus the lookback): its rows are
	// written, provisional until Final. Dirty: changed since its last row. Final: the correction
	// horizon passed it; its last row says so and it is never changed again. Emitted: a
	// non-empty row was written, so a minute that became empty needs a deleting row.
	Closed, Dirty, Final, Emitted bool
	// ClosedAt is the wall-clock time the minute closed, for the close-to-visible metric; it
	// is in no row and no checkpoint decision.
	ClosedAt time.Time
}

// NewMinute returns an empty minute.
func NewMinute(stream string, start int64) *Minute {
	return &Minute{Stream: stream, Start: start}
}

// Set returns the minute's set of kind k.
func (m *Minute) Set(k int) *sketch.Set {
	switch k {
	case KindConnected:
		return &m.Connected
	case KindHearing:
		return &m.Hearing
	}
	return &m.QualifiedSet
}

// ClearSets empties the distinct sets.
func (m *Minute) ClearSets() {
	m.Connected, m.Hearing, m.QualifiedSet = sketch.Set{}, sketch.Set{}, sketch.Set{}
}

// AddError counts one client error (sign −1 takes one back).
func (m *Minute) AddError(code string, sign int64) {
	m.Errors += sign
	if m.ErrorsByCode == nil {
		m.ErrorsByCode = map[string]int64{}
	}
	if n := m.ErrorsByCode[code] + sign; n != 0 {
		m.ErrorsByCode[code] = n
	} else {
		delete(m.ErrorsByCode, code)
	}
}

// Displayed records the platform's displayed count at t. Max and last (the latest t, the
// largest count among equal t) do not depend on the order or the number of copies.
func (m *Minute) Displayed(count uint64, t int64) {
	if !m.HasDisplayed || count > m.DisplayedMax {
		m.DisplayedMax = count
	}
	if !m.HasDisplayed || t > m.DisplayedLastAt || t == m.DisplayedLastAt && count > m.DisplayedLast {
		m.DisplayedLast, m.DisplayedLastAt = count, t
	}
	m.HasDisplayed = true
}

// Empty reports whether nothing happened in the minute: such a minute has no row.
func (m *Minute) Empty() bool {
	if m.HasDisplayed || m.Connected.Len() != 0 || m.Hearing.Len() != 0 || m.QualifiedSet.Len() != 0 {
		return false
	}
	for _, c := range [...]int64{m.Joins, m.Leaves, m.Timeouts, m.Plays, m.StartFailures, m.Errors,
		m.PlayedMS, m.MutedMS, m.StalledMS, m.TrimmedMS, m.Qualified} {
		if c != 0 {
			return false
		}
	}
	for i := range m.ConnDiff {
		if m.ConnDiff[i] != 0 || m.HearDiff[i] != 0 {
			return false
		}
	}
	return true
}

// AddSeconds counts one listener (sign −1: takes it back) at every second of this minute whose
// midpoint lies in [from, to) (unix ms) in diff.
func (m *Minute) AddSeconds(diff *[61]int32, from, to int64, sign int32) {
	from -= m.Start
	to -= m.Start
	// second s counts when from ≤ 1000s+500 < to
	lo := ceilDiv(from-500, 1000)
	hi := ceilDiv(to-500, 1000) // exclusive
	lo, hi = max(lo, 0), min(hi, 60)
	if lo < hi {
		diff[lo] += sign
		diff[hi] -= sign
	}
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// PerSecond turns a difference array into the 60 per-second counts.
func PerSecond(diff *[61]int32) []uint32 {
	out, _ := perSecond(diff)
	return out
}

// perSecond also reports whether a count went below zero (clamped to 0).
func perSecond(diff *[61]int32) ([]uint32, bool) {
	out := make([]uint32, 60)
	var run int32
	neg := false
	for i := range out {
		run += diff[i]
		neg = neg || run < 0
		out[i] = uint32(max(run, 0))
	}
	return out, neg
}
