// Package eventlog holds earshot's Kafka plumbing on top of segmentio/kafka-go: topic set-up,
// the collector's producer settings and the aggregator's consumer-group settings.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// Config says where Kafka is and which topic carries events.
type Config struct {
	// Brokers are host:port bootstrap addresses.
	Brokers []string `mapstructure:"brokers"`
	// Topic carries the binary event records, keyed by listener.
	Topic string `mapstructure:"topic"`
	// Partitions is the topic's final partition count: running kafka-go groups do not always
	// notice a later increase (kafka-go #646). 12 lets up to 12 aggregators share the load and
	// divides evenly by 1, 2, 3, 4 and 6 instances.
	Partitions int `mapstructure:"partitions"`
	// ReplicationFactor is 1 for the local single broker; use 3 in production.
	ReplicationFactor int `mapstructure:"replication_factor"`
}

// DefaultConfig points at the local broker started by `make up`.
func DefaultConfig() Config {
	return Config{Brokers: []string{"127.0.0.1:9092"}, Topic: "earshot.events", Partitions: 12, ReplicationFactor: 1}
}

// Validate names the first key that is wrong.
func (c Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("kafka.brokers must list at least one broker")
	case c.Topic == "":
		return errors.New("kafka.topic must not be empty")
	case c.Partitions <= 0:
		return errors.New("kafka.partitions must be positive")
	case c.ReplicationFactor <= 0:
		return errors.New("kafka.replication_factor must be positive")
	}
	return nil
}

// EnsureTopic creates the topic with its partition count if it does not exist yet.
// An existing topic with fewer partitions is an error: the count must be final (kafka-go #646).
func EnsureTopic(ctx context.Context, c Config) error {
	client := &kafkago.Client{Addr: kafkago.TCP(c.Brokers...), Timeout: 10 * time.Second}
	resp, err := client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{
		Topics: []kafkago.TopicConfig{{Topic: c.Topic, NumPartitions: c.Partitions, ReplicationFactor: c.ReplicationFactor}},
	})
	if err != nil {
		return fmt.Errorf("cannot create topic %s: %w", c.Topic, err)
	}
	if terr := resp.Errors[c.Topic]; terr != nil && !errors.Is(terr, kafkago.TopicAlreadyExists) {
		return fmt.Errorf("cannot create topic %s: %w", c.Topic, terr)
	}
	n, err := PartitionCount(ctx, c.Brokers, c.Topic)
	if err != nil {
		return err
	}
	if n < c.Partitions {
		return fmt.Errorf("topic %s has %d partitions, config says %d: create it with the final count", c.Topic, n, c.Partitions)
	}
	return nil
}

// DeleteTopic deletes the topic (benchmarks and tests clean up their runs' topics with it).
func DeleteTopic(ctx context.Context, c Config) error {
	client := &kafkago.Client{Addr: kafkago.TCP(c.Brokers...), Timeout: 10 * time.Second}
	resp, err := client.DeleteTopics(ctx, &kafkago.DeleteTopicsRequest{Topics: []string{c.Topic}})
	if err != nil {
		return fmt.Errorf("cannot delete topic %s: %w", c.Topic, err)
	}
	if terr := resp.Errors[c.Topic]; terr != nil {
		return fmt.Errorf("cannot delete topic %s: %w", c.Topic, terr)
	}
	return nil
}

// PartitionCount asks the cluster how many partitions topic has, once every one has a leader.
// It retries briefly because a just-created topic may not be in the metadata yet, or its
// partitions not led yet: writes to them would fail with "not leader for partition".
func PartitionCount(ctx context.Context, brokers []string, topic string) (int, error) {
	client := &kafkago.Client{Addr: kafkago.TCP(brokers...), Timeout: 10 * time.Second}
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		md, err := client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) > 0 {
			if err = leaderless(md.Topics[0]); err == nil {
				return len(md.Topics[0].Partitions), nil
			}
		}
		if err == nil && len(md.Topics) == 1 {
			err = md.Topics[0].Error
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("cannot read metadata of topic %s: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("cannot read metadata of topic %s: %v", topic, lastErr)
}

// leaderless says which partition of t has no leader yet, or nil.
func leaderless(t kafkago.Topic) error {
	for _, p := range t.Partitions {
		if p.Error != nil {
			return fmt.Errorf("partition %d: %w", p.ID, p.Error)
		}
		if p.Leader.Host == "" {
			return fmt.Errorf("partition %d has no leader yet", p.ID)
		}
	}
	return nil
}
