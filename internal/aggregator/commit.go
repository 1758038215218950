package aggregator

import (
	"context"

	"github.com/earshot/earshot/internal/chsink"
)

// committer writes the flushes of all of an aggregator's partitions together (group commit).
// Each partition flushes every flush_interval; written on its own, each flush is one insert
// per table, so twelve partitions made ~50 small inserts a second at full size — each a
// request, a part for ClickHouse to merge, and on the development engine a turn behind its one
// lock, where a partition's minute rows queued behind the other partitions' raw events
// (make bench-night: rows visible p99 2.2 s at the stream's pace, the engine 28 % of the
// machine). The committer takes whatever flushes are waiting, writes them as one insert per
// table, and answers each: while one group is written the next gathers, so a busy aggregator
// writes large inserts and an idle one writes at once.
type committer struct {
	in chan commit
}

type commit struct {
	b    *chsink.Batch
	done chan error
}

// maxGroup bounds the flushes written together: one per partition an aggregator can own is
// the most that can wait at once, this bound only keeps a group's size sane if many do.
const maxGroup = 64

// newCommitter starts a committer writing with write until ctx ends.
func newCommitter(ctx context.Context, write func(context.Context, ...*chsink.Batch) error) *committer {
	c := &committer{in: make(chan commit, maxGroup)}
	go c.run(ctx, write)
	return c
}

func (c *committer) run(ctx context.Context, write func(context.Context, ...*chsink.Batch) error) {
	group := make([]commit, 0, maxGroup)
	batches := make([]*chsink.Batch, 0, maxGroup)
	for {
		select {
		case <-ctx.Done():
			return
		case first := <-c.in:
			group = append(group[:0], first)
		}
	gather:
		for len(group) < maxGroup {
			select {
			case next := <-c.in:
				group = append(group, next)
			default:
				break gather
			}
		}
		batches = batches[:0]
		for _, g := range group {
			batches = append(batches, g.b)
		}
		err := write(ctx, batches...)
		for _, g := range group {
			if err != nil && len(group) > 1 {
				// Each on its own: one batch that cannot be written (a row the server refuses)
				// must not hold back every partition that happens to be grouped with it.
				g.done <- write(ctx, g.b)
				continue
			}
			g.done <- err // buffered: the partition may have stopped waiting
		}
		clear(batches) // let the written batches go
		clear(group)
	}
}

// write hands b to the group being gathered and waits until it is written. When the group
// fails, each of its batches is tried once more on its own, and an error means b may not be
// assumed written: the partition retries its flush (every write is idempotent, so rows that
// were written are written again harmlessly).
func (c *committer) write(ctx context.Context, b *chsink.Batch) error {
	done := make(chan error, 1)
	select {
	case c.in <- commit{b: b, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
