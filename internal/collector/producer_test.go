package collector

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// fakeKafka stands in for kafkago.Writer: it balances every message as the real writer does
// and keeps what each partition received, in order.
type fakeKafka struct {
	partitions int
	err        error // returned by every write
	mu         sync.Mutex
	got        map[int][]kafkago.Message
	writes     int
}

func (f *fakeKafka) WriteMessages(_ context.Context, msgs ...kafkago.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	if f.err != nil {
		return f.err
	}
	ids := make([]int, f.partitions)
	for i := range ids {
		ids[i] = i
	}
	if f.got == nil {
		f.got = map[int][]kafkago.Message{}
	}
	for _, m := range msgs {
		p := ListenerBalancer{}.Balance(m, ids...)
		f.got[p] = append(f.got[p], m)
	}
	return nil
}

func (f *fakeKafka) Close() error { return nil }

func (f *fakeKafka) received() map[int][]kafkago.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got
}

// newFakeProducer returns a Producer writing to f, whose partition count lookups are counted.
func newFakeProducer(f *fakeKafka, capacity int, lookups *int) *Producer {
	return &Producer{w: f, capacity: int64(capacity), timeout: time.Second,
		countPartitions: func(context.Context) (int, error) {
			*lookups++
			return f.partitions, nil
		}}
}

func listenerMsg(key uint64) kafkago.Message {
	k := binary.LittleEndian.AppendUint64(nil, key)
	return kafkago.Message{Key: k, Value: k}
}

func TestListenerBalancerTargetsHeaderPartition(t *testing.T) {
	parts := []int{0, 1, 2, 3, 4, 5}
	f := func(m kafkago.Message, want int) {
		t.Helper()
		if got := (ListenerBalancer{}).Balance(m, parts...); got != want {
			t.Fatalf("headers %v: partition %d, want %d", m.Headers, got, want)
		}
	}
	m := listenerMsg(0xdeadbeefcafef00d)
	byKey := PartitionOf(0xdeadbeefcafef00d, len(parts))
	f(m, byKey)
	for p := range parts {
		m.Headers = []kafkago.Header{{Key: "trace", Value: []byte("x")}, {Key: PartitionHeader, Value: []byte(strconv.Itoa(p))}}
		f(m, p)
	}
	// A partition the writer does not know is still the target: the write fails instead of
	// landing elsewhere.
	m.Headers = []kafkago.Header{{Key: PartitionHeader, Value: []byte("6")}}
	f(m, 6)
	// Anything else is not a target: the listener key decides.
	for _, v := range []string{"", "-1", "x", everyPartition} {
		m.Headers = []kafkago.Header{{Key: PartitionHeader, Value: []byte(v)}}
		f(m, byKey)
	}
}

// TestWriteCopiesEndRecordsToEveryPartition: a message for every partition becomes one copy
// per partition, each after the messages that preceded it in its partition, and each copy
// counts against the in-flight budget.
func TestWriteCopiesEndRecordsToEveryPartition(t *testing.T) {
	k := &fakeKafka{partitions: 4}
	lookups := 0
	p := newFakeProducer(k, 100, &lookups)
	end := kafkago.Message{Key: []byte("stream-k"), Value: []byte("end"), Headers: forEveryPartition}
	var before []kafkago.Message
	for i := range uint64(8) {
		before = append(before, listenerMsg(i<<40|i))
	}
	after := listenerMsg(99)
	msgs := append(append(before, end), after)
	if err := p.Write(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	got := k.received()
	for part := range 4 {
		ms := got[part]
		ends := 0
		for i, m := range ms {
			if string(m.Value) != "end" {
				if ends > 0 && string(m.Value) != string(after.Value) {
					t.Fatalf("partition %d: message %d of the request before the end is after it", part, i)
				}
				continue
			}
			ends++
			if h, ok := headerPartition(m.Headers); !ok || h != part {
				t.Fatalf("partition %d: end copy with headers %v", part, m.Headers)
			}
		}
		if ends != 1 {
			t.Fatalf("partition %d has %d end records, want 1", part, ends)
		}
	}
	if p.Inflight() != 0 {
		t.Fatalf("in-flight %d after the write", p.Inflight())
	}
	// 9 listener messages and 4 copies of the end fit a budget of 13, not 12.
	p = newFakeProducer(&fakeKafka{partitions: 4}, 12, &lookups)
	var re *RetryableError
	if err := p.Write(context.Background(), msgs); !errors.Is(err, ErrBufferFull) || !errors.As(err, &re) {
		t.Fatalf("13 messages in a budget of 12: %v", err)
	}
	p.capacity = 13
	if err := p.Write(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	// The count is asked once per Producer, and not at all without end records.
	if lookups != 2 {
		t.Fatalf("%d partition count lookups, want 2", lookups)
	}
	if err := p.Write(context.Background(), before); err != nil || lookups != 2 {
		t.Fatalf("%v, %d lookups", err, lookups)
	}
}

func TestWriteWithoutPartitionCountIsRetryable(t *testing.T) {
	k := &fakeKafka{partitions: 4}
	p := &Producer{w: k, capacity: 100, timeout: time.Second,
		countPartitions: func(context.Context) (int, error) { return 0, errors.New("no metadata") }}
	end := kafkago.Message{Key: []byte("k"), Value: []byte("end"), Headers: forEveryPartition}
	var re *RetryableError
	if err := p.Write(context.Background(), []kafkago.Message{end}); !errors.Is(err, ErrKafkaUnavailable) || !errors.As(err, &re) || re.RetryAfter == 0 {
		t.Fatalf("end record without a partition count: %v", err)
	}
	if k.writes != 0 {
		t.Fatal("wrote although the end record could not reach every partition")
	}
}
