package result

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Int formats a count with a space between thousands, as style guides for numbers in news
// copy do across languages: 60 000 000.
func Int(v float64) string {
	s := strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Short formats a large count the way apps display it: 1.2M, 45.3K, 821. A value is shown in
// the unit it rounds into: 999 999 is 1M, not 1000K.
func Short(v float64) string {
	trim := func(s string) string { return strings.TrimSuffix(s, ".0") }
	// Each unit applies from the value that rounds (to its one decimal) to 1.0 of it.
	switch a := math.Abs(v); {
	case a >= 0.99995e9:
		return trim(fmt.Sprintf("%.1f", v/1e9)) + "B"
	case a >= 0.99995e6:
		return trim(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case a >= 9_999.5:
		return trim(fmt.Sprintf("%.1f", v/1e3)) + "K"
	}
	return Int(v)
}

// Factor formats a ratio for a sentence: ×1.4, ×48, ×73 000 (two significant digits above
// 100: more would claim a precision the comparison does not have). Below 10 it keeps one
// decimal, or as many more as it takes not to print ×1.0 for a factor that is not 1, nor ×0.0
// for one that is not 0: "overstated ×1.0" would contradict itself.
func Factor(k float64) string {
	switch {
	case k < 10:
		d := 1
		for ; d < 6; d++ {
			r, _ := strconv.ParseFloat(strconv.FormatFloat(k, 'f', d, 64), 64)
			if (r != 1 || k == 1) && (r != 0 || k == 0) {
				break
			}
		}
		return "×" + strconv.FormatFloat(k, 'f', d, 64)
	case k < 100:
		return "×" + strconv.FormatFloat(k, 'f', 0, 64)
	}
	p := math.Pow(10, math.Floor(math.Log10(k))-1)
	return "×" + Int(math.Round(k/p)*p)
}

// Amount is a count of noun for a sentence: "821 listeners (exact)" or
// "1 234 000 listeners (95 % 1 230 000–1 238 000)"; without a noun "821 (exact)".
func Amount(c Count, noun string) string {
	v := Int(c.Value)
	if noun != "" {
		v += " " + noun
	}
	if c.Exact {
		return v + " (exact)"
	}
	return fmt.Sprintf("%s (95 %% %s–%s)", v, Int(c.Lo), Int(c.Hi))
}
