package forensics

import (
	"math"
	"strings"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (±%g)", what, got, want, tol)
	}
}

// TestFitByHand checks the least squares through the origin on five points computed on paper.
func TestFitByHand(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	y := []float64{2, 4, 5, 8, 11}
	// Σxy = 2 + 8 + 15 + 32 + 55 = 112, Σx² = 1 + 4 + 9 + 16 + 25 = 55 → k = 112/55 = 2.0363…
	// Through the origin SS_res = Σy² − (Σxy)²/Σx²; Σy² = 4 + 16 + 25 + 64 + 121 = 230,
	// so SS_res = 230 − 12544/55 = (12650 − 12544)/55 = 106/55.
	// mean y = 30/5 = 6, SS_tot = Σy² − n·mean² = 230 − 180 = 50.
	// R² = 1 − (106/55)/50 = 1 − 106/2750 = 2644/2750 = 0.96145…
	// RelRMSE = √(SS_res/n)/mean = √(106/275)/6 = 0.62085…/6 = 0.10348…
	k, r2, hasR2, rel := fit(x, y)
	near(t, "k", k, 112.0/55, 1e-12)
	if !hasR2 {
		t.Fatal("no R² for a varying counter")
	}
	near(t, "R²", r2, 2644.0/2750, 1e-12)
	near(t, "RelRMSE", rel, math.Sqrt(106.0/275)/6, 1e-12)
}

// TestFitProportional: a counter that is exactly 1.4 × the series gives the factor and R² = 1.
func TestFitProportional(t *testing.T) {
	x := []float64{10, 20, 35, 50, 80, 100}
	y := make([]float64, len(x))
	for i := range x {
		y[i] = 1.4 * x[i]
	}
	k, r2, hasR2, rel := fit(x, y)
	near(t, "k", k, 1.4, 1e-12)
	if !hasR2 {
		t.Fatal("no R²")
	}
	near(t, "R²", r2, 1, 1e-12)
	near(t, "RelRMSE", rel, 0, 1e-12)
}

// TestFitConstant: a counter that never changes has no variation to explain: no R², and the
// relative error decides.
func TestFitConstant(t *testing.T) {
	y := []float64{100, 100, 100, 100, 100, 100}
	// Flat series at 50: k = Σxy/Σx² = (6·5000)/(6·2500) = 2, no residual.
	k, _, hasR2, rel := fit([]float64{50, 50, 50, 50, 50, 50}, y)
	if hasR2 {
		t.Error("R² defined for a constant counter")
	}
	near(t, "k", k, 2, 1e-12)
	near(t, "RelRMSE", rel, 0, 1e-12)
	// Wobbling series 40 50 60 50 40 60: Σxy = 100·300 = 30000,
	// Σx² = 1600 + 2500 + 3600 + 2500 + 1600 + 3600 = 15400 → k = 30000/15400 = 1.948…
	// SS_res = Σy² − (Σxy)²/Σx² = 60000 − 9·10⁸/15400 = 1558.44…
	// RelRMSE = √(SS_res/6)/100 = 0.16117…
	k, _, hasR2, rel = fit([]float64{40, 50, 60, 50, 40, 60}, y)
	if hasR2 {
		t.Error("R² defined for a constant counter")
	}
	near(t, "k", k, 30000.0/15400, 1e-12)
	near(t, "RelRMSE", rel, math.Sqrt((60000-9e8/15400)/6)/100, 1e-12)
}

func TestSentence(t *testing.T) {
	for _, c := range []struct {
		f    Fit
		want string
	}{
		{Fit{Label: "cumulative joins", Factor: 1.4, R2: 0.9984, HasR2: true}, "tracks cumulative joins × 1.40 (R² 0.998)"},
		// Rounded down: 0.99996 is not a perfect fit; a fourth decimal from 0.999 up.
		{Fit{Label: "x", Factor: 1, R2: 0.99996, HasR2: true}, "tracks x × 1.00 (R² 0.9999)"},
		{Fit{Label: "x", Factor: 1, R2: 0.9996, HasR2: true}, "tracks x × 1.00 (R² 0.9996)"},
		{Fit{Label: "x", Factor: 1, R2: 0.9989, HasR2: true}, "tracks x × 1.00 (R² 0.998)"},
		{Fit{Label: "x", Factor: 1, R2: 1, HasR2: true}, "tracks x × 1.00 (R² 1.0000)"},
		{Fit{Label: "x", Factor: 1, R2: 1 - 1e-16, HasR2: true}, "tracks x × 1.00 (R² 1.0000)"},
		{Fit{Label: "x", Factor: 2.5, R2: 0.9, HasR2: true}, "roughly tracks x × 2.50 (R² 0.900)"},
		{Fit{Label: "x", Factor: 2.5, R2: 0.42, HasR2: true}, "is only loosely related to x × 2.50 (R² 0.420)"},
		{Fit{Label: "x", Factor: 0.0123, R2: 0.99, HasR2: true}, "tracks x × 0.0123 (R² 0.990)"},
		{Fit{Label: "x", Factor: 1234.5, R2: 0.99, HasR2: true}, "tracks x × 1.23e+03 (R² 0.990)"},
		{Fit{Label: "x", Factor: 2, RelRMSE: 0.01}, "matches x × 2.00 (within 1.0 %; no R²: the counter did not change)"},
		{Fit{Label: "x", Factor: 2, RelRMSE: 0.2}, "is only loosely related to x × 2.00 (within 20.0 %; no R²: the counter did not change)"},
	} {
		if got := c.f.Sentence(); got != c.want {
			t.Errorf("Sentence() = %q, want %q", got, c.want)
		}
	}
	if s := (Fit{Label: "x", Factor: 1, RelRMSE: math.Inf(1)}).Sentence(); !strings.Contains(s, "∞") {
		t.Errorf("infinite error: %q", s)
	}
}
