package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/pkg/client"
)

// Direct is a collector without HTTP: it converts client events with the collector's own
// pipeline (validation, event time, pseudonymization, encoding) and writes them to Kafka with
// acks=all. `earshot simulate --to-kafka` uses it to load a simulated stream at the rate Kafka
// and the aggregator take it, without the HTTP stage, so that a benchmark can tell the stages
// apart. It sends like a trusted-time platform token: timestamps kept, displayed events allowed.
type Direct struct {
	pipe *Pipeline
	prod *Producer
}

// NewDirect builds the pipeline from cfg (its hash key must be the collectors' for the listener
// keys to agree) and a producer for kcfg.
func NewDirect(cfg Config, kcfg eventlog.Config) (*Direct, error) {
	pipe, err := NewPipeline(cfg)
	if err != nil {
		return nil, err
	}
	return &Direct{pipe: pipe, prod: NewProducer(kcfg, cfg.Limits.InflightEvents, cfg.Limits.KafkaTimeout)}, nil
}

// SendBatch converts and writes events, answering as a collector would.
func (d *Direct) SendBatch(ctx context.Context, events []client.Event) (client.Result, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return client.Result{}, fmt.Errorf("event %d: %w", i, err)
		}
	}
	var b Batch
	if err := d.pipe.Convert(body.Bytes(), Source{TrustedTime: true, Platform: true}, time.Now(), &b); err != nil {
		return client.Result{}, err
	}
	res := client.Result{Accepted: b.Resp.Accepted, Rejected: b.Resp.Rejected}
	for _, e := range b.Resp.Errors {
		res.Errors = append(res.Errors, client.ItemError{Index: e.Index, Reason: string(e.Reason), Message: e.Message})
	}
	if len(b.Msgs) == 0 {
		return res, nil
	}
	// As a player retries a 503: Kafka busy or electing a leader is waited for, a few times.
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		// Not ctx itself, as in the server: kafka-go may still write what it queued after a
		// cancellation, and the events must not be reported lost when they are in Kafka.
		err := d.prod.Write(context.WithoutCancel(ctx), b.Msgs)
		var re *RetryableError
		switch {
		case err == nil:
			res.Retries = attempt
			return res, nil
		case !errors.As(err, &re) || attempt >= 5:
			return client.Result{Retries: attempt}, err // nothing accepted: not in Kafka
		}
		// The wait the server would have put in Retry-After, at least.
		select {
		case <-ctx.Done():
			return client.Result{}, ctx.Err()
		case <-time.After(max(backoff, re.RetryAfter)):
		}
		backoff *= 2
	}
}

// Close flushes and closes the producer.
func (d *Direct) Close() error { return d.prod.Close() }
