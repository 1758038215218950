package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/earshot/earshot/pkg/event"
	"github.com/earshot/earshot/pkg/session"
)

// TestRestoreAtRandomPointsMatchesUninterrupted checkpoints and restores the partition state
// at random offsets of a generated stream: the rows equal an uninterrupted run's.
func TestRestoreAtRandomPointsMatchesUninterrupted(t *testing.T) {
	st := Generate(smallScenario())
	var recs []event.Record
	for _, b := range st.Batches {
		for i := range b {
			recs = append(recs, record(&b[i]))
		}
	}
	rows := func(cuts map[int]bool) []string {
		p := session.New(session.DefaultConfig(), 0)
		final := map[string]string{}
		take := func() {
			for _, m := range p.TakeOutput().Minutes {
				r, _ := m.Row(0, 0)
				final[fmt.Sprint(m.Start)] = fmt.Sprint(r)
			}
		}
		for i := range recs {
			if cuts[i] {
				take()
				data, err := p.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if p, err = session.Restore(session.DefaultConfig(), data); err != nil {
					t.Fatal(err)
				}
			}
			p.Add(&recs[i], int64(i))
		}
		p.Flush()
		take()
		var out []string
		for k, v := range final {
			out = append(out, k+" "+v)
		}
		slices.Sort(out)
		return out
	}
	want := rows(nil)
	r := rand.New(rand.NewPCG(9, 9))
	cuts := map[int]bool{}
	for range 25 {
		cuts[r.IntN(len(recs))] = true
	}
	got := rows(cuts)
	if len(got) != len(want) {
		t.Fatalf("%d minutes vs %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("after restores:\n%s\nuninterrupted:\n%s", got[i], want[i])
		}
	}
}
