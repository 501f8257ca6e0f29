package benchcli

import (
	"math"
	"testing"
)

// TestMannWhitneyReference checks the U test against p-values computed by
// scipy 1.10.1 (Debian's python3-scipy) with testdata/utest_reference.py:
// scipy.stats.permutation_test over every split of the pooled values
// (the exact distribution given the ties) where both samples have two or
// more values; for one-value samples, which permutation_test refuses, the
// script enumerates the splits itself (y takes each of the six ranks with
// probability 1/6, so the extreme U has a tail of 1/6 and p = 2/6); and
// scipy.stats.mannwhitneyu(method="asymptotic", use_continuity=True) for
// the large case.
func TestMannWhitneyReference(t *testing.T) {
	large := func() ([]float64, []float64) {
		var x, y []float64
		for i := range 40 {
			x = append(x, float64(i%17))
		}
		for i := range 35 {
			y = append(y, float64(i%13+2))
		}
		return x, y
	}
	lx, ly := large()
	tests := []struct {
		name  string
		x, y  []float64
		u, p  float64
		exact bool
	}{
		// The case of the issue: five baseline values with ties, one new
		// value below them all. The smallest two-sided p for 5 vs 1 is 1/3.
		{"5 vs 1 tied old", []float64{101, 100, 101, 90, 100}, []float64{71}, 5, 0.3333333333333333, true},
		{"5 vs 1 apart", []float64{1, 2, 3, 4, 5}, []float64{6}, 0, 0.3333333333333333, true},
		{"5 vs 1 all tied old", []float64{5, 5, 5, 5, 5}, []float64{6}, 0, 0.3333333333333333, true},
		{"5 vs 1 inside", []float64{1, 2, 3, 4, 5}, []float64{3.5}, 2, 1, true},
		{"4 vs 4 apart", []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 0, 0.02857142857142857, true},
		{"5 vs 5 ties across", []float64{1, 2, 2, 3, 3}, []float64{3, 3, 4, 4, 5}, 2, 0.047619047619047616, true},
		{"6 vs 6 interleaved", []float64{1, 3, 5, 7, 9, 11}, []float64{2, 4, 6, 8, 10, 12}, 15, 0.6991341991341992, true},
		{"10 vs 10 heavy ties", []float64{7, 7, 7, 8, 8, 8, 8, 9, 9, 9}, []float64{8, 8, 9, 9, 9, 9, 10, 10, 10, 10}, 16, 0.009666803784450843, true},
		{"8 vs 12 shift", []float64{10.1, 10.4, 9.8, 10.0, 10.3, 10.2, 9.9, 10.5},
			[]float64{10.6, 10.9, 10.2, 11.0, 10.8, 10.7, 10.4, 11.2, 10.9, 10.6, 11.1, 10.3}, 7.5, 0.0008414701913153925, true},
		{"40 vs 35 asymptotic", lx, ly, 655, 0.6358118139501602, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MannWhitney(tt.x, tt.y)
			if got.U != tt.u || got.Exact != tt.exact || math.Abs(got.P-tt.p) > 1e-9*math.Max(1, tt.p) {
				t.Errorf("MannWhitney = U %g p %.17g exact %v; want U %g p %.17g exact %v", got.U, got.P, got.Exact, tt.u, tt.p, tt.exact)
			}
		})
	}
}

func TestMannWhitneyEdges(t *testing.T) {
	if got := MannWhitney([]float64{3, 3, 3}, []float64{3, 3}); got.P != 1 {
		t.Errorf("all equal: p %g, want 1", got.P)
	}
	if got := MannWhitney(nil, []float64{1}); got.P != 1 {
		t.Errorf("empty sample: p %g, want 1", got.P)
	}
	if got, want := minExactP(5, 1), 1.0/3; math.Abs(got-want) > 1e-12 {
		t.Errorf("minExactP(5, 1) = %g, want %g", got, want)
	}
	if got, want := minExactP(10, 10), 2.0/184756; math.Abs(got-want) > 1e-15 {
		t.Errorf("minExactP(10, 10) = %g, want %g", got, want)
	}
}

// TestBenjaminiHochberg checks the adjusted p-values against the step-up
// rule by hand: m = 5, sorted p 0.001 0.008 0.039 0.041 0.6 give
// p*m/rank 0.005 0.02 0.065 0.05125 0.6, then the running minimum from
// the top: 0.005 0.02 0.05125 0.05125 0.6.
func TestBenjaminiHochberg(t *testing.T) {
	ps := []float64{0.041, 0.001, 0.6, 0.039, 0.008}
	want := []float64{0.05125, 0.005, 0.6, 0.05125, 0.02}
	got := BenjaminiHochberg(ps)
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("BH(%v) = %v, want %v", ps, got, want)
		}
	}
}
