// Command calibrate measures the root-mean-square relative error of one dense precision-16
// HyperLogLog sketch (axiomhq/hyperloglog, as internal/sketch uses it) at each cardinality of
// internal/sketch/calibration.go's table, and prints the table:
//
//	go run ./bench/calibrate
//
// It takes about two minutes. Its keys come from a PCG stream disjoint from the coverage
// tests' (internal/sketch/coverage_test.go), so the tests judge the table on keys it was not
// fitted to. Rerun it after changing the precision or the library.
package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/axiomhq/hyperloglog"
)

// calibrationStream must differ from coverageStream in internal/sketch/coverage_test.go.
const calibrationStream = 0xca1b

var points = []int{4097, 5000, 6000, 7000, 8500, 10000, 12500, 15000, 20000, 25000, 30000, 40000, 50000, 60000,
	70000, 85000, 100000, 125000, 150000, 200000, 250000, 300000, 400000, 500000, 700000, 1000000, 1500000,
	2000000, 3000000, 5000000}

func main() {
	fmt.Println("var calibration = []calibrationPoint{")
	for _, n := range points {
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
