package sketch

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/axiomhq/hyperloglog"
)

var calibrate = flag.Bool("calibrate", false, "measure the calibration table of calibration.go and print it")

// calibrationStream is the PCG stream of the calibration's keys: disjoint from the coverage
// tests' (coverageStream), so the tests judge the table on keys it was not fitted to.
const calibrationStream = 0xca1b

// TestCalibrate measures the root-mean-square relative error of one dense precision-16 sketch
// at each cardinality of the table and prints calibration.go's table:
//
//	go test ./internal/sketch -count=1 -run TestCalibrate -v -args -calibrate
//
// It takes about a minute; it runs only when asked.
func TestCalibrate(t *testing.T) {
	if !*calibrate {
		t.Skip("run with -calibrate to measure the table")
	}
	fmt.Println("var calibration = []calibrationPoint{")
	for _, p := range calibration {
		n := int(p.n)
		trials := 2000
		switch {
		case n >= 2_000_000:
			trials = 300
		case n >= 300_000:
			trials = 600
		}
		var ss float64
		for tr := range uint64(trials) {
			r := rand.New(rand.NewPCG(uint64(n)<<20|tr, calibrationStream))
			h := hyperloglog.New16NoSparse()
			for range n {
				h.InsertHash(r.Uint64())
			}
			e := (float64(h.Estimate()) - float64(n)) / float64(n)
			ss += e * e
		}
		fmt.Printf("\t{%d, %.5f}, // %d trials\n", n, math.Sqrt(ss/float64(trials)), trials)
	}
	fmt.Println("}")
}
