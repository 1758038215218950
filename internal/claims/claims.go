// Package claims checks public audience claims against what earshot measured (SPEC, "Claims
// and verdicts").
package claims

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/earshot/earshot/internal/report"
	"github.com/earshot/earshot/internal/sketch"
)

// Metrics a claim can be about.
const (
	// MetricConcurrent: "N are listening right now" — compared with the connected listeners
	// at the peak second of the minute the claim was made in (or of the stream, without said_at).
	MetricConcurrent = "concurrent"
	// MetricCume: "N listened" — distinct listeners over the whole stream.
	MetricCume = "cume"
	// MetricDisplayed: a figure the platform showed — compared with the displayed counter.
	MetricDisplayed = "displayed"
)

// Claim is one public statement about an audience.
type Claim struct {
	ID           string    `json:"claim_id"`
	StreamID     string    `json:"stream_id"`
	Claimant     string    `json:"claimant"`
	Quote        string    `json:"quote"`
	ClaimedValue float64   `json:"claimed_value"`
	Metric       string    `json:"metric"`
	SaidAt       time.Time `json:"said_at"`
	SourceURL    string    `json:"source_url"`
}

// Store inserts claims in one batch, after checking them all: it stores nothing if one is not
// valid (Claim.Validate) or a claim_id is given twice.
//
// Storing is idempotent by claim: the claims table (schema/001_tables.sql) is a
// ReplacingMergeTree(added_at) ordered by (stream_id, claim_id), so a claim stored again, from
// the same file imported twice or `earshot check --save` run twice (NewID), replaces the earlier
// row: read with FINAL (as ForStream does) there is one row per claim, the latest. The key
// holds stream_id as well: a claim stored again under another stream_id does not replace the
// first one, which stays with its stream.
func Store(ctx context.Context, conn driver.Conn, cs []Claim) error {
	seen := make(map[string]bool, len(cs))
	for i, c := range cs {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("claim %d (%s): %w", i+1, show(c.ID), err)
		}
		if seen[c.ID] {
			return fmt.Errorf("claim %d: claim_id %s is given twice", i+1, show(c.ID))
		}
		seen[c.ID] = true
	}
	if len(cs) == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, `INSERT INTO claims
		(claim_id, stream_id, claimant, quote, claimed_value, metric, said_at, source_url, added_at)`)
	if err != nil {
		return fmt.Errorf("cannot prepare claims insert: %w", err)
	}
	now := time.Now().UTC()
	for _, c := range cs {
		// A zero said_at is stored as the epoch (ForStream reads it back as zero).
		if err := batch.Append(c.ID, c.StreamID, c.Claimant, c.Quote, c.ClaimedValue, c.Metric, c.SaidAt.UTC(), c.SourceURL, now); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("cannot store claim %s: %w", show(c.ID), err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("cannot store claims: %w", err)
	}
	return nil
}

// ForStream returns the stored claims about a stream.
func ForStream(ctx context.Context, conn driver.Conn, stream string) ([]Claim, error) {
	rows, err := conn.Query(ctx, `SELECT claim_id, stream_id, claimant, quote, claimed_value, metric, said_at, source_url
		FROM claims FINAL WHERE stream_id = ? ORDER BY said_at, claim_id`, stream)
	if err != nil {
		return nil, fmt.Errorf("cannot read claims: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		var c Claim
		if err := rows.Scan(&c.ID, &c.StreamID, &c.Claimant, &c.Quote, &c.ClaimedValue, &c.Metric, &c.SaidAt, &c.SourceURL); err != nil {
			return nil, err
		}
		if c.SaidAt.Unix() <= 0 {
			c.SaidAt = time.Time{} // stored as the epoch: not given
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Verdict kinds.
const (
	Consistent    = "consistent"
	Overstated    = "overstated"
	Understated   = "understated"
	NotMeasurable = "not measurable"
)

// Figure is a measured number a reader may compare a claim with.
type Figure struct {
	Name  string
	Count sketch.Count
	Note  string
}

// Verdict is the outcome of checking one claim.
type Verdict struct {
	Claim Claim
	Kind  string
	// Factor is claimed/hi (overstated) or lo/claimed (understated), hi and lo being the
	// measured figure's 95 % interval; 1 when consistent. It is 0 when the ratio does not exist:
	// a claim of 0 understated, or a claim overstating a measured 0.
	Factor    float64
	Measured  Figure
	Tolerance float64
	Reason    string
	// Context lists the other figures a reader may confuse the claim with.
	Context []Figure
}

// Check compares c with the stream's report (nil: no data). tolerance is relative (0.05: a
// claim within 5 % of the interval is consistent; public figures are rounded): with the measured
// figure's 95 % interval [lo, hi], a claim in [lo·(1−tolerance), hi·(1+tolerance)] is
// consistent, one above it overstated by claimed/hi, one below it understated by lo/claimed.
//
// A concurrent claim is compared with the peak connected of the minute it was said in (not
// measurable when that minute has no data), or of the whole stream without said_at; a cume
// claim with the whole stream's cume connected; a displayed claim with the highest figure the
// platform displayed (not measurable when it never reported one). A claim is not measurable
// without data for the stream, and when its metric is unknown or its value is not a finite
// number ≥ 0 (Validate refuses both).
func Check(c Claim, r *report.Stream, tolerance float64) Verdict {
	v := Verdict{Claim: c, Tolerance: tolerance}
	if r == nil || len(r.Minutes) == 0 {
		v.Kind, v.Reason = NotMeasurable, "no data for this stream"
		return v
	}
	v.Context = []Figure{
		{Name: "displayed by the platform (max)", Count: exact(float64(r.DisplayedMax)), Note: "the platform's own counter"},
		{Name: "peak concurrent connected", Count: exact(float64(r.PeakConcurrent)), Note: at(r.PeakConcurrentAt)},
		{Name: "peak concurrent hearing", Count: exact(float64(r.PeakHearing)), Note: at(r.PeakHearingAt)},
		{Name: "cume connected", Count: r.CumeConnected, Note: "distinct listeners, whole stream"},
		{Name: "cume hearing", Count: r.CumeHearing, Note: "distinct listeners who heard ≥ 2 s in some minute"},
		{Name: "cume qualified", Count: r.CumeQualified, Note: "distinct listeners with a ≥ 60 s session"},
	}
	claimed := c.ClaimedValue
	if math.IsNaN(claimed) || math.IsInf(claimed, 0) || claimed < 0 {
		v.Kind, v.Reason = NotMeasurable, fmt.Sprintf("the claimed value %v is not a finite number ≥ 0", claimed)
		return v
	}
	switch c.Metric {
	case MetricConcurrent:
		if !c.SaidAt.IsZero() {
			m, ok := r.At(c.SaidAt)
			if !ok {
				v.Kind, v.Reason = NotMeasurable, "no measurement in the minute the claim was made ("+c.SaidAt.UTC().Format(time.RFC3339)+")"
				return v
			}
			v.Measured = Figure{Name: "peak concurrent connected in the minute of the claim", Count: exact(float64(m.PeakConcurrent)),
				Note: m.Start.Format("15:04 UTC")}
		} else {
			v.Measured = v.Context[1]
		}
	case MetricCume:
		v.Measured = v.Context[3]
	case MetricDisplayed:
		if !r.HasDisplayed() {
			v.Kind, v.Reason = NotMeasurable, "the platform's displayed counter was not reported"
			return v
		}
		v.Measured = v.Context[0]
		// "The app showed 560K at 00:58" is about that minute's counter, not its peak.
		if !c.SaidAt.IsZero() {
			m, ok := r.At(c.SaidAt)
			if !ok || !m.HasDisplayed {
				v.Kind, v.Reason = NotMeasurable, "the platform's displayed counter was not reported in the minute the claim was made ("+c.SaidAt.UTC().Format(time.RFC3339)+")"
				return v
			}
			v.Measured = Figure{Name: "displayed by the platform in the minute of the claim (max)", Count: exact(float64(m.DisplayedMax)),
				Note: m.Start.Format("15:04 UTC")}
		}
	default:
		v.Kind, v.Reason = NotMeasurable, fmt.Sprintf("unknown metric %s", show(c.Metric))
		return v
	}
	lo, hi := v.Measured.Count.Lo, v.Measured.Count.Hi
	switch {
	case claimed > hi*(1+tolerance):
		v.Kind = Overstated
		if hi > 0 {
			v.Factor = claimed / hi
		}
	case claimed < lo*(1-tolerance):
		v.Kind = Understated
		if claimed > 0 {
			v.Factor = lo / claimed
		}
	default:
		v.Kind, v.Factor = Consistent, 1
	}
	return v
}

func exact(v float64) sketch.Count { return sketch.Count{Value: v, Lo: v, Hi: v, Exact: true} }

func at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return "at " + t.UTC().Format("15:04:05 UTC")
}

// String is the one-line verdict, e.g. "overstated by ×48.2", or "understated: claimed 0,
// measured 1000" when there is no factor.
func (v Verdict) String() string {
	switch v.Kind {
	case Overstated, Understated:
		if v.Factor == 0 {
			m := v.Measured.Count
			measured := fmt.Sprintf("%.0f", m.Value)
			if !m.Exact {
				measured = fmt.Sprintf("%.0f–%.0f", m.Lo, m.Hi)
			}
			return fmt.Sprintf("%s: claimed %s, measured %s", v.Kind, strconv.FormatFloat(v.Claim.ClaimedValue, 'f', -1, 64), measured)
		}
		return fmt.Sprintf("%s by ×%.1f", v.Kind, v.Factor)
	case NotMeasurable:
		return v.Kind + ": " + v.Reason
	}
	return fmt.Sprintf("%s (within the 95%% interval ± %.0f%%)", v.Kind, v.Tolerance*100)
}
