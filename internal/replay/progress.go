package replay

import (
	"sync"
	"sync/atomic"
	"time"
)

// Progress is how far a replay has come, for a progress line.
type Progress struct {
	// BytesRead of BytesTotal, the input file's size as stored (compressed if it is): what the
	// ETA is measured in. The reader runs ahead of the acknowledged events by a few batches.
	BytesRead, BytesTotal int64
	// Lines read; Sent events answered by the collector, of which Accepted and Rejected;
	// Malformed lines not sent (not valid events). Like Summary's, the counts include the
	// acknowledged prefix of earlier, interrupted runs.
	Lines, Sent, Accepted, Rejected, Malformed int64
	// Retries counts pkg/client's retried requests (429, 503, network errors).
	Retries int64
	// Elapsed is this run's time; EventsPerSec its rate of events answered.
	Elapsed      time.Duration
	EventsPerSec float64
	// ETA extrapolates this run's reading rate over the bytes left; 0 when unknown or done.
	ETA time.Duration
	// Done marks the last Progress of a Run, whether it succeeded or not.
	Done bool
}

// meter measures the reading.
type meter struct {
	began      time.Time
	bytesTotal int64
	bytesStart int64 // read before this run's reading began (a resumed run's skip)
	bytesRead  atomic.Int64
	lines      atomic.Int64 // read by this run
	linesStart int64        // before this run (a resumed run's offset)
}

// start marks the beginning of this run's reading.
func (m *meter) start(size, lines int64) {
	m.began, m.bytesTotal, m.bytesStart, m.linesStart = time.Now(), size, m.bytesRead.Load(), lines
}

// progress measures the run now.
func (r *run) progress(done bool) Progress {
	live, base := r.ledger.counts()
	m := r.meter
	p := Progress{BytesRead: m.bytesRead.Load(), BytesTotal: m.bytesTotal, Lines: m.linesStart + m.lines.Load(),
		Sent: live.Sent, Accepted: live.Accepted, Rejected: live.Rejected, Malformed: live.Malformed,
		Retries: live.Retries, Elapsed: time.Since(m.began), Done: done}
	if s := p.Elapsed.Seconds(); s > 0 {
		p.EventsPerSec = float64(live.Sent-base.Sent) / s
		rate := float64(p.BytesRead-m.bytesStart) / s
		if left := p.BytesTotal - p.BytesRead; !done && rate > 0 && left > 0 {
			p.ETA = time.Duration(float64(left) / rate * float64(time.Second))
		}
	}
	return p
}

// startProgress calls Options.Progress every ProgressInterval until stop, which returns once no
// call is running, so that Run's last call (Done) is the last one.
func (r *run) startProgress() (stop func()) {
	if r.opts.Progress == nil {
		return func() {}
	}
	return every(r.opts.ProgressInterval, func() bool {
		r.opts.Progress(r.progress(false))
		return true
	})
}

// every calls fn every interval until fn returns false or stop is called; stop returns once no
// call is running.
func every(interval time.Duration, fn func() bool) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if !fn() {
					return
				}
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}
