// Package forensics finds what a platform's displayed audience counter actually counts.
//
// A platform shows a number ("1.2M listening") and nobody outside it knows its definition:
// listeners connected right now, everyone who ever joined, plays, or something scaled. earshot
// measures several of those series per minute from raw telemetry, so the question becomes a
// fit: which measured series, times which factor, reproduces the displayed counter minute by
// minute, and how well (R²). A reader then learns that "1.2M" was, say, cumulative joins × 1.4
// rather than people hearing the stream at that moment.
//
// The package only does arithmetic on aligned per-minute series (Analyze), plus an adapter
// that builds the series from a stream report (FromReport); it reads no storage itself, so the
// same code serves the CLI, the web page and tests against the simulator's oracle.
package forensics
