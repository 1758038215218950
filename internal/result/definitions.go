package result

// Definitions are the metrics' one-sentence definitions (SPEC, "Definitions"), shown beside the
// numbers by every output. Keys are the JSON names used in Totals, Minute and Figure.metric.
var Definitions = map[string]string{
	"displayed_max":           "The platform's own listener counter, as its app showed it (largest value seen); earshot does not know what it counts.",
	"peak_concurrent":         "The most listeners connected at the same second: a live session, from join (or first heartbeat) to leave or 60 s of silence.",
	"peak_concurrent_minute":  "The most listeners connected at the same second within the minute the claim was made.",
	"displayed_minute":        "The platform's own listener counter at its largest within the minute the claim was made.",
	"peak_concurrent_hearing": "The most listeners at the same second who were actually hearing audio (≥ 2 s unmuted in the minute).",
	"connected":               "Distinct listeners with a live session at any moment of the minute.",
	"hearing":                 "Distinct listeners for whom at least 2 s of unmuted audio was rendered in the minute: the audience that could actually hear.",
	"cume_connected":          "Distinct listeners connected at any time in the range.",
	"cume_hearing":            "Distinct listeners who heard audio (≥ 2 s unmuted in some minute) at any time in the range.",
	"cume_qualified":          "Distinct listeners with a session of ≥ 60 s of unmuted audio (IAB podcast and Triton Webcast Metrics rule).",
	"aqh_persons":             "Average quarter-hour persons: listeners with ≥ 5 minutes of unmuted audio in a clock quarter hour, averaged over the quarters with a connected listener (Nielsen Audio).",
	"tsl_seconds":             "Time spent listening: total unmuted audio divided by the cume of hearing listeners.",
	"joins":                   "Sessions started.",
	"start_failures":          "Joins followed by no audio within 30 s.",
	"errors":                  "Error events reported by players, by code.",
	"authenticated":           "Distinct connected listeners whose events carried a signed listener ticket from the platform: nobody with only the app's public token could have invented them.",
	"played_trimmed_ms":       "Heartbeat audio not counted because it overlapped audio the same listener had already reported (a second device, or forged heartbeats).",
	"delivery":                "How events arrived: applied late as corrections, copies dropped, too late to apply (beyond the 30-min correction horizon).",
}
