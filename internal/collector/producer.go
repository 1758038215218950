package collector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/earshot/earshot/internal/eventlog"
	"github.com/earshot/earshot/pkg/event"
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

// PartitionHeader is the Kafka message header that sends a message to one partition, named in
// decimal, instead of its listener's (ListenerBalancer). End and tick records carry it, one copy
// per partition (docs/record.md). Inside the collector the value everyPartition marks a message
// that Producer.Write still has to copy to every partition; it never reaches Kafka.
const PartitionHeader = "earshot-partition"

const everyPartition = "all"

// forEveryPartition is the header of a message for every partition (see PartitionHeader).
var forEveryPartition = []kafkago.Header{{Key: PartitionHeader, Value: []byte(everyPartition)}}

// messageWriter is the part of kafkago.Writer the Producer uses; tests stand in for Kafka.
type messageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafkago.Message) error
	Close() error
}

// Producer writes records to Kafka with acks from all in-sync replicas and bounds the number
// of events waiting for acknowledgement.
type Producer struct {
	w        messageWriter
	capacity int64
	inflight atomic.Int64
	timeout  time.Duration
	// countPartitions asks Kafka for the topic's partition count; partitions keeps the first
	// answer (0 until then).
	countPartitions func(context.Context) (int, error)
	partitions      atomic.Int64
}

// NewProducer configures a kafka-go Writer for the collector's latency: kafka-go's defaults
// (BatchSize 100, BatchTimeout 1 s) would hold a synchronous write for up to a second.
// Concurrent requests share batches per partition; 2 ms of batching costs little latency and
// lets hundreds of requests share one produce request under load.
func NewProducer(cfg eventlog.Config, inflight int, timeout time.Duration) *Producer {
	return &Producer{
		w: &kafkago.Writer{
			Addr:         kafkago.TCP(cfg.Brokers...),
			Topic:        cfg.Topic,
			Balancer:     ListenerBalancer{},
			RequiredAcks: kafkago.RequireAll,
			// kafka-go allocates every partition batch at BatchSize capacity up front (writeBatch.add:
			// make([]Message, 0, BatchSize)): 5 000 cost ~1 MB of zeroing per batch, a fifth of the
			// collector's CPU in the night bench. Under load a partition gathers a few hundred
			// messages in 2 ms, so 1 000 never splits a batch that would have gone whole.
			BatchSize:    1000,
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
		countPartitions: func(ctx context.Context) (int, error) {
			return eventlog.PartitionCount(ctx, cfg.Brokers, cfg.Topic)
		},
	}
}

// Partitions returns the topic's partition count. It asks Kafka until it gets an answer, then
// keeps it: the count is final (eventlog.EnsureTopic; kafka-go #646), and a collector that started
// while Kafka was down learns it once Kafka is back.
func (p *Producer) Partitions(ctx context.Context) (int, error) {
	if n := p.partitions.Load(); n > 0 {
		return int(n), nil
	}
	n, err := p.countPartitions(ctx)
	if err != nil {
		return 0, err
	}
	p.partitions.Store(int64(n))
	return n, nil
}

// Write sends msgs and returns once Kafka acknowledged all of them, or an error wrapping
// ErrBufferFull or ErrKafkaUnavailable. Some messages may have been written when it fails;
// the client's retry then duplicates them, and the aggregator drops the duplicates by
// event fingerprint. A message for every partition (an end record) is copied to each, and each
// copy counts against the in-flight budget.
func (p *Producer) Write(ctx context.Context, msgs []kafkago.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	msgs, err := p.spread(ctx, msgs)
	if err != nil {
		return &RetryableError{Err: fmt.Errorf("%w: %w", ErrKafkaUnavailable, err), RetryAfter: 2 * time.Second}
	}
	n := int64(len(msgs))
	if p.inflight.Add(n) > p.capacity {
		p.inflight.Add(-n)
		return &RetryableError{Err: ErrBufferFull, RetryAfter: time.Second}
	}
	defer p.inflight.Add(-n)
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return &RetryableError{Err: fmt.Errorf("%w: %w", ErrKafkaUnavailable, err), RetryAfter: 2 * time.Second}
	}
	return nil
}

// spread replaces each message for every partition by one copy per partition, in place, so that
// in every partition it follows the messages before it (a stream's end after its events). It
// returns msgs itself when there is none.
func (p *Producer) spread(ctx context.Context, msgs []kafkago.Message) ([]kafkago.Message, error) {
	marked := 0
	for i := range msgs {
		if isForEveryPartition(&msgs[i]) {
			marked++
		}
	}
	if marked == 0 {
		return msgs, nil
	}
	n, err := p.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]kafkago.Message, 0, len(msgs)+marked*(n-1))
	for _, m := range msgs {
		if !isForEveryPartition(&m) {
			out = append(out, m)
			continue
		}
		for part := range n {
			m.Headers = []kafkago.Header{{Key: PartitionHeader, Value: strconv.AppendInt(nil, int64(part), 10)}}
			out = append(out, m)
		}
	}
	return out, nil
}

// WriteEveryPartition writes the record value once to each partition, within the Kafka timeout
// and outside the in-flight budget, which bounds client events only (ticks, `earshot streams
// close`). The key is the record's listener key, as for every record.
func (p *Producer) WriteEveryPartition(ctx context.Context, value []byte) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	msgs, err := p.spread(ctx, []kafkago.Message{{Key: value[4:12], Value: value, Headers: forEveryPartition}})
	if err != nil {
		return err
	}
	return p.w.WriteMessages(ctx, msgs...)
}

func isForEveryPartition(m *kafkago.Message) bool {
	for _, h := range m.Headers {
		if h.Key == PartitionHeader && string(h.Value) == everyPartition {
			return true
		}
	}
	return false
}

// Inflight is the number of events waiting for Kafka.
func (p *Producer) Inflight() int64 { return p.inflight.Load() }

// Close flushes and closes the writer.
func (p *Producer) Close() error { return p.w.Close() }

// ListenerBalancer sends each listener's events to one partition, chosen from the record's
// 64-bit listener key. It uses the high half of the key times a large odd constant, so the
// partition is independent of the key's top bits that HyperLogLog uses for its registers.
// A message with a PartitionHeader goes to the partition it names, even one the writer does not
// know (the write then fails rather than land in another partition).
type ListenerBalancer struct{}

// Balance implements kafkago.Balancer.
func (ListenerBalancer) Balance(msg kafkago.Message, partitions ...int) int {
	if p, ok := headerPartition(msg.Headers); ok {
		return p
	}
	return partitions[PartitionOf(listenerKey(msg.Key), len(partitions))]
}

// headerPartition reads the partition a PartitionHeader names.
func headerPartition(headers []kafkago.Header) (int, bool) {
	for _, h := range headers {
		if h.Key == PartitionHeader {
			p, err := strconv.Atoi(string(h.Value))
			return p, err == nil && p >= 0
		}
	}
	return 0, false
}

// PartitionOf maps a listener key to one of n partitions.
func PartitionOf(listener uint64, n int) int {
	return int(((listener * 0x9E3779B97F4A7C15) >> 32) % uint64(n))
}

// EndRecord encodes the record that closes stream (docs/record.md: type end), as the collector
// writes it for an end event of a trusted token; at is the end's time (unix ms), eventID its id.
func EndRecord(stream, eventID string, at int64) []byte {
	return event.AppendRecord(nil, &event.Record{Type: event.TypeEnd, Flags: event.FlagTrustedTime,
		Listener: xxhash.Sum64String(stream), Fingerprint: event.Fingerprint([]byte(eventID)),
		EventTime: at, ReceivedAt: time.Now().UnixMilli(), StreamID: []byte(stream)})
}
