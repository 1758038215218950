package collector

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/pkg/kafka"
)

// Errors the HTTP edge maps to 503 with Retry-After.
var (
	// ErrBufferFull: accepting the request would exceed limits.inflight_events.
	ErrBufferFull = errors.New("collector buffer full")
	// ErrKafkaUnavailable: Kafka did not acknowledge the events in time.
	ErrKafkaUnavailable = errors.New("kafka unavailable")
)

// RetryableError tells the client to come back after RetryAfter.
type RetryableError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Producer writes records to Kafka with acks from all in-sync replicas and bounds the number
// of events waiting for acknowledgement.
type Producer struct {
	w        *kafkago.Writer
	capacity int64
	inflight atomic.Int64
	timeout  time.Duration
}

// NewProducer configures a kafka-go Writer for the collector's latency: kafka-go's defaults
// (BatchSize 100, BatchTimeout 1 s) would hold a synchronous write for up to a second.
// Concurrent requests share batches per partition; 2 ms of batching costs little latency and
// lets hundreds of requests share one produce request under load.
func NewProducer(cfg kafka.Config, inflight int, timeout time.Duration) *Producer {
	return &Producer{
		w: &kafkago.Writer{
			Addr:         kafkago.TCP(cfg.Brokers...),
			Topic:        cfg.Topic,
			Balancer:     ListenerBalancer{},
			RequiredAcks: kafkago.RequireAll,
			BatchSize:    5000,
			BatchBytes:   4 << 20,
			BatchTimeout: 2 * time.Millisecond,
			WriteTimeout: timeout,
			ReadTimeout:  timeout,
			// Transient errors (leader elections, "not leader for partition") are retried
			// quickly inside the writer; the request's deadline (KafkaTimeout) still bounds the
			// wait, after which the client gets 503 and retries itself.
			MaxAttempts:     3,
			WriteBackoffMin: 20 * time.Millisecond,
			WriteBackoffMax: 250 * time.Millisecond,
		},
		capacity: int64(inflight),
		timeout:  timeout,
	}
}

// Write sends msgs and returns once Kafka acknowledged all of them, or an error wrapping
// ErrBufferFull or ErrKafkaUnavailable. Some messages may have been written when it fails;
// the client's retry then duplicates them, and the aggregator drops the duplicates by
// event fingerprint.
func (p *Producer) Write(ctx context.Context, msgs []kafkago.Message) error {
	n := int64(len(msgs))
	if n == 0 {
		return nil
	}
	if p.inflight.Add(n) > p.capacity {
		p.inflight.Add(-n)
		return &RetryableError{Err: ErrBufferFull, RetryAfter: time.Second}
	}
	defer p.inflight.Add(-n)
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return &RetryableError{Err: fmt.Errorf("%w: %w", ErrKafkaUnavailable, err), RetryAfter: 2 * time.Second}
	}
	return nil
}

// Inflight is the number of events waiting for Kafka.
func (p *Producer) Inflight() int64 { return p.inflight.Load() }

// Close flushes and closes the writer.
func (p *Producer) Close() error { return p.w.Close() }

// ListenerBalancer sends each listener's events to one partition, chosen from the record's
// 64-bit listener key. It uses the high half of the key times a large odd constant, so the
// partition is independent of the key's top bits that HyperLogLog uses for its registers.
type ListenerBalancer struct{}

// Balance implements kafkago.Balancer.
func (ListenerBalancer) Balance(msg kafkago.Message, partitions ...int) int {
	return partitions[PartitionOf(listenerKey(msg.Key), len(partitions))]
}

// PartitionOf maps a listener key to one of n partitions.
func PartitionOf(listener uint64, n int) int {
	return int(((listener * 0x9E3779B97F4A7C15) >> 32) % uint64(n))
}
