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
// written together as the next group; when a group fails, each of its flushes is tried on its
// own and gets its own answer, so one that cannot be written holds back no other; a caller
// that stops waiting is answered by its context.
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
	nGroups := func() int { mu.Lock(); defer mu.Unlock(); return len(groups) }
	group := func(i int) []*chsink.Batch { mu.Lock(); defer mu.Unlock(); return groups[i] }
	c := newCommitter(ctx, write)
	type answer struct {
		b   *chsink.Batch
		err error
	}
	answers := make(chan answer, 8)
	send := func(ctx context.Context, b *chsink.Batch) { answers <- answer{b, c.write(ctx, b)} }

	first := &chsink.Batch{}
	go send(ctx, first)
	waitFor(t, func() bool { return nGroups() == 1 })
	// Three flushes arrive while the first is written.
	later := []*chsink.Batch{{}, {}, {}}
	for _, b := range later {
		go send(ctx, b)
	}
	waitFor(t, func() bool { return len(c.in) == len(later) })
	release <- nil
	if a := <-answers; a.b != first || a.err != nil {
		t.Fatalf("first flush: %v", a.err)
	}
	waitFor(t, func() bool { return nGroups() == 2 })
	if g := group(0); len(g) != 1 || g[0] != first {
		t.Errorf("first group %v, want the first flush alone", g)
	}
	got := map[*chsink.Batch]bool{}
	for _, b := range group(1) {
		got[b] = true
	}
	for i, b := range later {
		if !got[b] {
			t.Errorf("flush %d missing from the second group", i)
		}
	}
	if len(got) != len(later) {
		t.Errorf("second group has %d flushes, want %d", len(got), len(later))
	}

	// The group fails; alone, later[1] fails again and the others are written.
	refused := errors.New("row refused")
	release <- errors.New("group failed")
	for i := range later {
		waitFor(t, func() bool { return nGroups() == 3+i })
		g := group(2 + i)
		if len(g) != 1 {
			t.Fatalf("retry %d writes %d flushes, want 1", i, len(g))
		}
		if g[0] == later[1] {
			release <- refused
		} else {
			release <- nil
		}
	}
	for range later {
		a := <-answers
		var want error
		if a.b == later[1] {
			want = refused
		}
		if !errors.Is(a.err, want) {
			t.Errorf("flush %p: %v, want %v", a.b, a.err, want)
		}
	}

	// A caller whose context ends while its group is written stops waiting; the committer
	// goes on.
	wctx, wcancel := context.WithCancel(ctx)
	go send(wctx, &chsink.Batch{})
	waitFor(t, func() bool { return nGroups() == 6 })
	wcancel()
	if a := <-answers; !errors.Is(a.err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", a.err)
	}
	release <- nil
	go send(ctx, &chsink.Batch{})
	waitFor(t, func() bool { return nGroups() == 7 })
	release <- nil
	if a := <-answers; a.err != nil {
		t.Fatalf("flush after a cancelled caller: %v", a.err)
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
