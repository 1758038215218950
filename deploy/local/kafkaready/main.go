// Command kafkaready waits until a Kafka broker answers a metadata request.
//
// deploy/local/kafka.sh uses it after starting the local broker: an open port
// only says the JVM bound a socket, while a metadata answer says the broker
// finished starting and can serve clients.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9092", "broker address")
	timeout := flag.Duration("timeout", 60*time.Second, "how long to wait")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(*addr), Timeout: 2 * time.Second}
	var lastErr error
	for {
		resp, err := client.Metadata(ctx, &kafka.MetadataRequest{})
		if err == nil && len(resp.Brokers) > 0 && resp.Controller.ID >= 0 {
			return
		}
		if err == nil {
			err = fmt.Errorf("no brokers or controller in metadata")
		}
		lastErr = err
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "kafkaready: broker %s not ready after %s: %v\n", *addr, *timeout, lastErr)
			os.Exit(1)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
