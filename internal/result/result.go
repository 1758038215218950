// Package result is the one result every output of earshot is drawn from: `earshot report` in
// every format, `earshot check`, the web page. It is computed once from a stream's report and
// its claims, and documented field by field in docs/report.md with a JSON Schema
// (docs/report.schema.json); its JSON shape is stable within a schema_version.
//
// Keeping it in one place is what makes the outputs agree: a figure the page shows and the
// JSON a newsroom scrapes cannot drift apart, because neither computes anything.
package result

import (
	"encoding/json"
	"maps"
	"math"
	"time"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sketch"
)

// SchemaVersion changes only when a field changes meaning or is removed; adding fields keeps it.
const SchemaVersion = 1

// Status of a result: whether its figures may still change.
const (
	StatusFinal       = "final"        // every minute is settled
	StatusProvisional = "provisional"  // late events within the correction horizon may change any minute
	StatusPartlyFinal = "partly_final" // settled until final_until, provisional after
	StatusNoData      = "no_data"      // no measurements for the stream and range
)

// Result is a stream's measured audience over a minute-aligned range, with claim verdicts.
type Result struct {
	SchemaVersion int    `json:"schema_version"`
	StreamID      string `json:"stream_id"`
	// From is the first minute with data (inclusive), To the end of the last (exclusive); both
	// null without data.
	From   *time.Time `json:"from"`
	To     *time.Time `json:"to"`
	Status string     `json:"status"`
	// FinalUntil is the end of the run of final minutes the range starts with (null: none).
	FinalUntil *time.Time `json:"final_until"`
	Totals     *Totals    `json:"totals"` // null when there is no data
	Minutes    []Minute   `json:"minutes"`
	Claims     []Verdict  `json:"claims"`
	// DisplayedCounter says which measured series the platform's counter tracks, null when the
	// counter was never reported.
	DisplayedCounter *Counter `json:"displayed_counter"`
	// Definitions maps every metric name used above to its one-sentence definition (SPEC), so
	// that no output shows a number without saying what it counts.
	Definitions map[string]string `json:"definitions"`
}

// Count is a distinct count: exact (value = lo = hi) or a HyperLogLog estimate with its 95 %
// interval.
type Count struct {
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Exact bool    `json:"exact"`
}

// Peak is an exact maximum and the second it was first reached.
type Peak struct {
	Value uint64     `json:"value"`
	At    *time.Time `json:"at"`
}

// Totals are the whole range's figures.
type Totals struct {
	// DisplayedMax is the platform's own counter at its largest (null: never reported).
	DisplayedMax          *Peak             `json:"displayed_max"`
	PeakConcurrent        Peak              `json:"peak_concurrent"`
	PeakConcurrentHearing Peak              `json:"peak_concurrent_hearing"`
	CumeConnected         Count             `json:"cume_connected"`
	CumeHearing           Count             `json:"cume_hearing"`
	CumeQualified         Count             `json:"cume_qualified"`
	AQHPersons            float64           `json:"aqh_persons"`
	TSLSeconds            float64           `json:"tsl_seconds"`
	PlayedMS              uint64            `json:"played_ms"`
	PlayedTrimmedMS       uint64            `json:"played_trimmed_ms"`
	Joins                 uint64            `json:"joins"`
	StartFailures         uint64            `json:"start_failures"`
	Errors                uint64            `json:"errors"`
	ErrorsByCode          map[string]uint64 `json:"errors_by_code"`
	// Authenticated of Listed distinct connected listeners carried a signed listener ticket.
	Authenticated uint64   `json:"authenticated"`
	Listed        uint64   `json:"listed"`
	Delivery      Delivery `json:"delivery"`
}

// Delivery says how the events arrived; none of it changes a figure except by being applied
// exactly once.
type Delivery struct {
	Late       uint64 `json:"late"`
	Duplicates uint64 `json:"duplicates"`
	TooLate    uint64 `json:"too_late"`
}

// Minute is one minute of the curve.
type Minute struct {
	Minute                time.Time `json:"minute"`
	Connected             Count     `json:"connected"`
	Hearing               Count     `json:"hearing"`
	PeakConcurrent        uint64    `json:"peak_concurrent"`
	PeakConcurrentHearing uint64    `json:"peak_concurrent_hearing"`
	// DisplayedMax and DisplayedLast are null in minutes the platform's counter was not seen.
	DisplayedMax  *uint64 `json:"displayed_max"`
	DisplayedLast *uint64 `json:"displayed_last"`
	Joins         uint64  `json:"joins"`
	Leaves        uint64  `json:"leaves"`
	Timeouts      uint64  `json:"timeouts"`
	Plays         uint64  `json:"plays"`
	StartFailures uint64  `json:"start_failures"`
	Errors        uint64  `json:"errors"`
	PlayedMS      uint64  `json:"played_ms"`
	MutedMS       uint64  `json:"muted_ms"`
	StalledMS     uint64  `json:"stalled_ms"`
	Final         bool    `json:"final"`
}

// Claim is a public statement as stored (said_at null when not given).
type Claim struct {
	ID           string     `json:"claim_id"`
	StreamID     string     `json:"stream_id"`
	Claimant     string     `json:"claimant"`
	Quote        string     `json:"quote"`
	ClaimedValue float64    `json:"claimed_value"`
	Metric       string     `json:"metric"`
	SaidAt       *time.Time `json:"said_at"`
	SourceURL    string     `json:"source_url"`
}

// MarshalJSON writes claimed_value as null when it is not a finite number: a row of the claims
// table is not validated on the way out (claims.Check answers "not measurable" for it), and
// one NaN must not keep the whole result from encoding.
func (c Claim) MarshalJSON() ([]byte, error) {
	out := struct {
		ID           string     `json:"claim_id"`
		StreamID     string     `json:"stream_id"`
		Claimant     string     `json:"claimant"`
		Quote        string     `json:"quote"`
		ClaimedValue *float64   `json:"claimed_value"`
		Metric       string     `json:"metric"`
		SaidAt       *time.Time `json:"said_at"`
		SourceURL    string     `json:"source_url"`
	}{c.ID, c.StreamID, c.Claimant, c.Quote, nil, c.Metric, c.SaidAt, c.SourceURL}
	if v := c.ClaimedValue; !math.IsNaN(v) && !math.IsInf(v, 0) {
		out.ClaimedValue = &v
	}
	return json.Marshal(out)
}

// Figure is a measured number named for people.
type Figure struct {
	Metric string `json:"metric"` // a key of Definitions
	Name   string `json:"name"`
	Count  Count  `json:"count"`
	Note   string `json:"note"`
}

// Verdict is the check of one claim (SPEC, "Claims and verdicts").
type Verdict struct {
	Claim   Claim  `json:"claim"`
	Verdict string `json:"verdict"` // consistent | overstated | understated | not measurable
	// Factor is claimed/measured when overstated, measured/claimed when understated, 1 when
	// consistent, null when not measurable.
	Factor    *float64 `json:"factor"`
	Tolerance float64  `json:"tolerance"`
	Measured  *Figure  `json:"measured"` // null when not measurable
	Reason    string   `json:"reason"`   // why not measurable
	// Sentence is the verdict as one sentence a journalist can paste.
	Sentence string   `json:"sentence"`
	Context  []Figure `json:"context"`
}

// Build computes the result of a stream from its report (nil: no data) and its verdicts.
func Build(stream string, r *report.Stream, vs []claims.Verdict) *Result {
	return build(stream, r, r, vs)
}

// build is Build for a report r of part of the stream, whose claims were checked against the
// whole stream's report: their sentences are drawn from whole.
func build(stream string, r, whole *report.Stream, vs []claims.Verdict) *Result {
	out := &Result{SchemaVersion: SchemaVersion, StreamID: stream, Status: StatusNoData,
		Minutes: []Minute{}, Claims: []Verdict{}, Definitions: maps.Clone(Definitions)}
	if r != nil {
		out.From, out.To = timePtr(r.From), timePtr(r.To)
		out.Totals = totals(r)
		for _, m := range r.Minutes {
			out.Minutes = append(out.Minutes, minute(m))
		}
		switch {
		case !r.FinalTo.Before(r.To):
			out.Status = StatusFinal
		case r.FinalTo.IsZero():
			out.Status = StatusProvisional
		default:
			out.Status = StatusPartlyFinal
		}
		if !r.FinalTo.IsZero() {
			out.FinalUntil = timePtr(r.FinalTo)
		}
	}
	out.DisplayedCounter = counter(r)
	tracks := out.DisplayedCounter.tracks()
	if whole != r {
		tracks = counter(whole).tracks()
	}
	for _, v := range vs {
		out.Claims = append(out.Claims, verdict(v, whole, tracks))
	}
	return out
}

func totals(r *report.Stream) *Totals {
	t := &Totals{
		PeakConcurrent:        Peak{r.PeakConcurrent, timePtr(r.PeakConcurrentAt)},
		PeakConcurrentHearing: Peak{r.PeakHearing, timePtr(r.PeakHearingAt)},
		CumeConnected:         count(r.CumeConnected),
		CumeHearing:           count(r.CumeHearing),
		CumeQualified:         count(r.CumeQualified),
		AQHPersons:            r.AQHPersons,
		TSLSeconds:            r.TSL.Seconds(),
		PlayedMS:              r.PlayedMS,
		PlayedTrimmedMS:       r.PlayedTrimmedMS,
		Joins:                 r.Joins,
		StartFailures:         r.StartFailures,
		Errors:                r.Errors,
		ErrorsByCode:          maps.Clone(r.ErrorsByCode),
		Authenticated:         r.Authenticated,
		Listed:                r.Listed,
		Delivery:              Delivery{r.Late, r.Duplicates, r.TooLate},
	}
	if t.ErrorsByCode == nil {
		t.ErrorsByCode = map[string]uint64{}
	}
	if r.HasDisplayed() {
		t.DisplayedMax = &Peak{r.DisplayedMax, timePtr(r.DisplayedMaxAt)}
	}
	return t
}

func minute(m report.Minute) Minute {
	out := Minute{Minute: m.Start.UTC(), Connected: count(m.Connected), Hearing: count(m.Hearing),
		PeakConcurrent: m.PeakConcurrent, PeakConcurrentHearing: m.PeakHearing,
		Joins: m.Joins, Leaves: m.Leaves, Timeouts: m.Timeouts, Plays: m.Plays, StartFailures: m.StartFailures,
		Errors: m.Errors, PlayedMS: m.PlayedMS, MutedMS: m.MutedMS, StalledMS: m.StalledMS, Final: m.Final}
	if m.HasDisplayed {
		mx, last := m.DisplayedMax, m.DisplayedLast
		out.DisplayedMax, out.DisplayedLast = &mx, &last
	}
	return out
}

func count(c sketch.Count) Count { return Count{Value: c.Value, Lo: c.Lo, Hi: c.Hi, Exact: c.Exact} }

// timePtr is t in UTC, or nil for the zero time (not known).
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
