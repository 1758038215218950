package claims_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/claims"
	"github.com/earshot/earshot/internal/testenv"
)

// TestStoreTwiceIsOneImport: importing the same file twice leaves one row per claim (FINAL), and
// a claim stored again with a corrected quote replaces the first.
func TestStoreTwiceIsOneImport(t *testing.T) {
	conn := testenv.MigratedClickHouseDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := claims.LoadFile(filepath.Join("..", "..", "testdata", "claims", "x-space-2024-08-12-sim.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := claims.Store(ctx, conn, cs); err != nil {
			t.Fatal(err)
		}
	}
	got, err := claims.ForStream(ctx, conn, "x-space-2024-08-12-sim")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cs) {
		t.Fatalf("%d claims after two imports of %d", len(got), len(cs))
	}
	byID := map[string]claims.Claim{}
	for _, c := range got {
		byID[c.ID] = c
	}
	for _, c := range cs {
		g := byID[c.ID]
		if g.Quote != c.Quote || g.ClaimedValue != c.ClaimedValue || g.Metric != c.Metric || !g.SaidAt.Equal(c.SaidAt) {
			t.Errorf("claim %s read back as %+v, stored %+v", c.ID, g, c)
		}
	}

	adhoc := claims.Claim{StreamID: "x-space-2024-08-12-sim", Claimant: "someone", Quote: "sixty million",
		ClaimedValue: 60e6, Metric: claims.MetricConcurrent}
	adhoc.ID = claims.NewID(adhoc)
	fixed := adhoc
	fixed.Quote = "60 million"
	for _, c := range []claims.Claim{adhoc, fixed} {
		time.Sleep(2 * time.Millisecond) // added_at, the version, is in milliseconds
		if err := claims.Store(ctx, conn, []claims.Claim{c}); err != nil {
			t.Fatal(err)
		}
	}
	got, err = claims.ForStream(ctx, conn, "x-space-2024-08-12-sim")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range got {
		if c.ID == adhoc.ID {
			n++
			if c.Quote != "60 million" {
				t.Errorf("ad-hoc claim kept the first quote %q", c.Quote)
			}
		}
	}
	if n != 1 || len(got) != len(cs)+1 {
		t.Fatalf("%d rows of the ad-hoc claim, %d claims in all", n, len(got))
	}
}

func TestStoreRefusesInvalidClaims(t *testing.T) {
	// Refused before any connection is used: nil would panic if it were.
	if err := claims.Store(context.Background(), nil, []claims.Claim{{ID: "a", StreamID: "s", Metric: "views"}}); err == nil {
		t.Fatal("invalid claim stored")
	}
	c := claims.Claim{ID: "a", StreamID: "s", Metric: claims.MetricCume}
	if err := claims.Store(context.Background(), nil, []claims.Claim{c, c}); err == nil {
		t.Fatal("claim id given twice stored")
	}
	if err := claims.Store(context.Background(), nil, nil); err != nil {
		t.Fatalf("no claims: %v", err)
	}
}
