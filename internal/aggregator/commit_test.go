package aggregator

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/chsink"
)

// TestCommitterGroupsWaitingFlushes: flushes that arrive while a group is being written are
// written together as the next group, each caller gets that group's answer, and a caller that
// stops waiting is answered by its context.
func TestCommitterGroupsWaitingFlushes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan error)
	var mu sync.Mutex
	var groups [][]*chsink.Batch
	write := func(_ context.Context, bs ...*chsink.Batch) error {
		mu.Lock()
		groups = append(groups, append([]*chsink.Batch(nil), bs...))
		mu.Unlock()
		return <-release
	}
	c := newCommitter(ctx, write)

	first := &chsink.Batch{}
	errs := make(chan error, 4)
	go func() { errs <- c.write(ctx, first) }()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(groups) == 1 })

	// Three flushes arrive while the first is written.
	later := []*chsink.Batch{{}, {}, {}}
	for _, b := range later {
		go func() { errs <- c.write(ctx, b) }()
	}
	waitFor(t, func() bool { return len(c.in) == len(later) })
	release <- nil
	if err := <-errs; err != nil {
		t.Fatalf("first flush: %v", err)
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(groups) == 2 })
	failed := errors.New("engine down")
	release <- failed
	for range later {
		if err := <-errs; !errors.Is(err, failed) {
			t.Fatalf("a flush of the failed group got %v, want %v", err, failed)
		}
	}
	mu.Lock()
	if len(groups[0]) != 1 || groups[0][0] != first {
		t.Errorf("first group %v, want the first flush alone", groups[0])
	}
	got := map[*chsink.Batch]bool{}
	for _, b := range groups[1] {
		got[b] = true
	}
	mu.Unlock()
	for i, b := range later {
		if !got[b] {
			t.Errorf("flush %d missing from the second group", i)
		}
	}
	if len(got) != len(later) {
		t.Errorf("second group has %d flushes, want %d", len(got), len(later))
	}

	// A caller whose context ends while its group is written stops waiting; the group is
	// still answered without blocking the committer.
	wctx, wcancel := context.WithCancel(ctx)
	go func() { errs <- c.write(wctx, &chsink.Batch{}) }()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(groups) == 3 })
	wcancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	release <- nil
	go func() { errs <- c.write(ctx, &chsink.Batch{}) }()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(groups) == 4 })
	release <- nil
	if err := <-errs; err != nil {
		t.Fatalf("flush after a cancelled caller: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
