package session

// Hand-computed expectations (spec_cases_test.go) are written against these types only, from
// SPEC.md, docs/metrics.md and docs/time.md — never from this package's code — and run by
// TestSpecCases, which delivers each case's events in many ways (in order, shuffled, with
// copies, in parallel-like interleavings) and compares the final rows with the expectation.

// specT0 is the base of every case's times: 2024-08-13T00:00:00Z, a quarter-hour boundary.
const specT0 = int64(1723507200000)

// specEvent is one event as a client sends it. TS is in milliseconds after specT0. Events are
// imported with a trusted_time token, so event time = TS exactly.
type specEvent struct {
	ID       string // event_id; copies of an event share it (and everything else)
	Type     string // join, leave, heartbeat, play, error, displayed
	Listener string // listener_id (empty for displayed)
	TS       int64  // ms after specT0
	Played   int64  // heartbeat: played_ms
	Stalled  int64  // heartbeat: stalled_ms
	Muted    bool
	Code     string // error: error_code
	Count    int64  // displayed: displayed_count
}

// specMinute is the expected final row of one minute (all listeners of a case live in one
// stream; distinct counts are small, hence exact).
type specMinute struct {
	Connected, Hearing int
	// Qualified is the size of the minute's qualified set: distinct listeners whose session
	// reached 60 s of unmuted audio at a heartbeat with ts in this minute.
	Qualified int
	// QualifiedSessions counts such sessions (a listener may have several).
	QualifiedSessions           int
	PeakConcurrent, PeakHearing int
	// ConnectedPerSec / HearingPerSec, when non-nil, are the 60 per-second counts.
	ConnectedPerSec, HearingPerSec []int
	Joins, Leaves, Timeouts        int
	Plays, Errors, StartFailures   int
	ErrorsByCode                   map[string]int // nil: no errors
	PlayedMS, MutedMS, StalledMS   int64
	// HasDisplayed with DisplayedMax and DisplayedLast: the platform's counter in the minute.
	HasDisplayed                bool
	DisplayedMax, DisplayedLast int64
}

// specCume is the expected whole-stream distinct counts.
type specCume struct {
	Connected, Hearing, Qualified int
}

// specCase is one hand-computed scenario.
type specCase struct {
	Name string
	// Why names the rule tested and where it is written (SPEC section, docs/metrics.md row).
	Why    string
	Events []specEvent
	// Minutes are the expected rows by minute index after specT0 (minute 0 = [T0, T0+60 s)).
	// A minute not listed must have no row: nothing happened in it.
	Minutes map[int]specMinute
	// Quarters are the expected AQH persons by quarter-hour index after specT0; quarters not
	// listed have none.
	Quarters map[int]int
	// Cume, when set, is checked too.
	Cume *specCume
}
