// Command median reads `go test -bench` output (several -count runs) on stdin, passes it
// through, and then prints each benchmark's median of every metric: one run is noise on a
// shared machine, the median of several is what the project reports.
//
//	go test -run '^$' -bench . -count 5 ./... | go run ./bench/median
package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	type key struct{ pkg, bench, unit string }
	samples := map[key][]float64{}
	var order []key
	pkg := ""
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := sc.Text()
		fmt.Println(line)
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		// Name, iterations, then value-unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			k := key{pkg, f[0], f[i+1]}
			if _, ok := samples[k]; !ok {
				order = append(order, k)
			}
			samples[k] = append(samples[k], v)
		}
	}
	fmt.Println("\nmedians:")
	last := ""
	for _, k := range order {
		vs := samples[k]
		slices.Sort(vs)
		if name := k.pkg + " " + k.bench; name != last {
			fmt.Printf("  %s (%d runs)\n", name, len(vs))
			last = name
		}
		fmt.Printf("      %14.4g %s\n", vs[len(vs)/2], k.unit)
	}
}
