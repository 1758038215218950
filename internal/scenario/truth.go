package scenario

import (
	"encoding/json"
	"io"
	"slices"
	"time"

	"github.com/earshot/earshot/internal/sim"
)

// Truth is the exact answer to every SPEC metric of a simulated stream, per minute and in
// total, computed from the listeners' plans by the oracle (sim.Oracle) — independently of the
// pipeline, so that what the pipeline measured can be checked against it.
type Truth struct {
	StreamID string        `json:"stream_id"`
	Scale    float64       `json:"scale"`
	Seed     uint64        `json:"seed"`
	Totals   TruthTotals   `json:"totals"`
	Minutes  []TruthMinute `json:"minutes"`
}

// TruthTotals are the whole stream's exact figures.
type TruthTotals struct {
	PeakConcurrent        int     `json:"peak_concurrent"`
	PeakConcurrentHearing int     `json:"peak_concurrent_hearing"`
	CumeConnected         int     `json:"cume_connected"`
	CumeHearing           int     `json:"cume_hearing"`
	CumeQualified         int     `json:"cume_qualified"`
	AQHPersons            float64 `json:"aqh_persons"`
	TSLSeconds            float64 `json:"tsl_seconds"`
	PlayedMS              int64   `json:"played_ms"`
	Joins                 int     `json:"joins"`
	Leaves                int     `json:"leaves"`
	Timeouts              int     `json:"timeouts"`
	Plays                 int     `json:"plays"`
	Errors                int     `json:"errors"`
	StartFailures         int     `json:"start_failures"`
	DisplayedMax          int64   `json:"displayed_max"`
}

// TruthMinute is one minute's exact figures; displayed_* are null without the counter.
type TruthMinute struct {
	Minute                time.Time `json:"minute"`
	Connected             int       `json:"connected"`
	Hearing               int       `json:"hearing"`
	PeakConcurrent        int       `json:"peak_concurrent"`
	PeakConcurrentHearing int       `json:"peak_concurrent_hearing"`
	Joins                 int       `json:"joins"`
	Leaves                int       `json:"leaves"`
	Timeouts              int       `json:"timeouts"`
	Plays                 int       `json:"plays"`
	Errors                int       `json:"errors"`
	StartFailures         int       `json:"start_failures"`
	PlayedMS              int64     `json:"played_ms"`
	MutedMS               int64     `json:"muted_ms"`
	DisplayedMax          *int64    `json:"displayed_max"`
	DisplayedLast         *int64    `json:"displayed_last"`
}

// TruthOf is the truth of a generated stream, from the oracle's answer for it (tr =
// sim.Oracle(st), which callers already hold: at full size it takes seconds).
func TruthOf(st *sim.Stream, tr *sim.Truth, scale float64) *Truth {
	out := &Truth{StreamID: st.Scenario.StreamID, Scale: scale, Seed: st.Scenario.Seed, Minutes: []TruthMinute{},
		Totals: TruthTotals{PeakConcurrent: tr.PeakConcurrent, PeakConcurrentHearing: tr.PeakHearing,
			CumeConnected: tr.CumeConnected, CumeHearing: tr.CumeHearing, CumeQualified: tr.CumeQualified,
			AQHPersons: tr.AQHPersons(), PlayedMS: tr.PlayedMS, Joins: tr.Joins, Leaves: tr.Leaves, Timeouts: tr.Timeouts,
			Plays: tr.Plays, Errors: tr.Errors, StartFailures: tr.Failures, DisplayedMax: tr.DisplayedMax}}
	if tr.CumeHearing > 0 {
		out.Totals.TSLSeconds = float64(tr.PlayedMS) / 1000 / float64(tr.CumeHearing)
	}
	starts := make([]int64, 0, len(tr.Minutes))
	for k := range tr.Minutes {
		starts = append(starts, k)
	}
	slices.Sort(starts)
	for _, k := range starts {
		m := tr.Minutes[k]
		tm := TruthMinute{Minute: time.UnixMilli(k).UTC(), Connected: m.Connected, Hearing: m.Hearing,
			PeakConcurrent: m.PeakConcurrent, PeakConcurrentHearing: m.PeakHearing, Joins: m.Joins, Leaves: m.Leaves,
			Timeouts: m.Timeouts, Plays: m.Plays, Errors: m.Errors, StartFailures: m.Failures, PlayedMS: m.PlayedMS, MutedMS: m.MutedMS}
		if m.HasDisplayed {
			mx, last := m.DisplayedMax, m.DisplayedLast
			tm.DisplayedMax, tm.DisplayedLast = &mx, &last
		}
		out.Minutes = append(out.Minutes, tm)
	}
	return out
}

// Write writes the truth as indented JSON.
func (t *Truth) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}
