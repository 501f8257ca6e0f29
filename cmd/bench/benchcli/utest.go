package benchcli

import (
	"math"
	"slices"
	"sort"
)

// UTest is the outcome of a two-sided Mann-Whitney U test.
type UTest struct {
	// U is the statistic of the first sample: the pairs (x, y) with x > y,
	// plus half the tied pairs.
	U float64
	// P is the two-sided p-value: twice the smaller tail of the statistic's
	// distribution under the null hypothesis, at most 1.
	P float64
	// Exact is true when P comes from the exact permutation distribution
	// of the rank sum given the ties, false for the normal approximation.
	Exact bool
}

// exactLimit is the largest total sample size for which MannWhitney
// computes the exact distribution (a few milliseconds at the limit).
const exactLimit = 60

// MannWhitney runs the two-sided Mann-Whitney U (Wilcoxon rank-sum) test
// of x against y. Tied values take the mean of their ranks. Up to
// exactLimit values in all, the p-value is exact: the share of the
// C(n, len(x)) ways to split the pooled mid-ranks into two groups of these
// sizes whose rank sum lies at least as far out as the observed one (the
// permutation distribution conditional on the ties). Above the limit it
// is the normal approximation with the tie correction of the variance and
// a continuity correction of 1/2. All values equal, or an empty sample,
// gives P = 1: no evidence of a difference.
func MannWhitney(x, y []float64) UTest {
	n1, n2 := len(x), len(y)
	if n1 == 0 || n2 == 0 {
		return UTest{P: 1, Exact: true}
	}
	n := n1 + n2
	type val struct {
		v     float64
		first bool
	}
	pool := make([]val, 0, n)
	for _, v := range x {
		pool = append(pool, val{v, true})
	}
	for _, v := range y {
		pool = append(pool, val{v, false})
	}
	sort.SliceStable(pool, func(i, j int) bool { return pool[i].v < pool[j].v })
	// rank2 holds each pooled value's mid-rank doubled, an integer.
	rank2 := make([]int, n)
	var ties []int
	w2 := 0 // the first sample's doubled rank sum
	for i := 0; i < n; {
		j := i
		for j < n && pool[j].v == pool[i].v {
			j++
		}
		// Ranks i+1..j share (i+1+j)/2; doubled, i+1+j.
		for k := i; k < j; k++ {
			rank2[k] = i + 1 + j
			if pool[k].first {
				w2 += i + 1 + j
			}
		}
		ties = append(ties, j-i)
		i = j
	}
	u := float64(w2)/2 - float64(n1*(n1+1))/2
	if len(ties) == 1 {
		return UTest{U: u, P: 1, Exact: true}
	}
	if n <= exactLimit {
		return UTest{U: u, P: exactP(rank2, n1, w2), Exact: true}
	}
	var tieSum float64
	for _, t := range ties {
		tieSum += float64(t)*float64(t)*float64(t) - float64(t)
	}
	nf := float64(n)
	mu := float64(n1) * float64(n2) / 2
	sigma := math.Sqrt(float64(n1) * float64(n2) / 12 * ((nf + 1) - tieSum/(nf*(nf-1))))
	d := math.Max(0, math.Abs(u-mu)-0.5)
	return UTest{U: u, P: math.Min(1, math.Erfc(d/sigma/math.Sqrt2)), Exact: false}
}

// exactP is the two-sided p-value of the doubled rank sum w2 of k values
// drawn from the doubled ranks rank2: it counts the subsets of size k by
// their sum (a subset-sum recurrence, counts in float64 as they reach
// C(60, 30)) and returns twice the smaller tail.
func exactP(rank2 []int, k, w2 int) float64 {
	maxSum := 0
	for _, r := range rank2 {
		maxSum += r
	}
	// ways[j][s]: subsets of size j of the ranks seen so far summing to s.
	ways := make([][]float64, k+1)
	for j := range ways {
		ways[j] = make([]float64, maxSum+1)
	}
	ways[0][0] = 1
	seen := 0
	for _, r := range rank2 {
		seen += r
		for j := min(k, len(rank2)); j >= 1; j-- {
			row, prev := ways[j], ways[j-1]
			for s := seen; s >= r; s-- {
				if p := prev[s-r]; p != 0 {
					row[s] += p
				}
			}
		}
	}
	var total, le, ge float64
	for s, c := range ways[k] {
		total += c
		if s <= w2 {
			le += c
		}
		if s >= w2 {
			ge += c
		}
	}
	return math.Min(1, 2*math.Min(le, ge)/total)
}

// minExactP is the smallest two-sided p-value the test can give for
// samples of sizes n1 and n2 (no ties, the samples fully apart):
// 2 / C(n1+n2, n1). A comparison whose minimum is not below alpha can
// never find a difference, whatever the values.
func minExactP(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	// log C(n1+n2, n1)
	lg := func(v int) float64 { r, _ := math.Lgamma(float64(v + 1)); return r }
	c := math.Exp(lg(n1+n2) - lg(n1) - lg(n2))
	return math.Min(1, 2/c)
}

// BenjaminiHochberg returns the adjusted p-values (q-values) of ps that
// control the false discovery rate across them: sorted ascending, the
// i-th of m gets min over j >= i of p_j * m / j, at most 1. Declaring the
// tests with q < alpha significant keeps the expected share of false
// discoveries among them at most alpha.
func BenjaminiHochberg(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case ps[a] < ps[b]:
			return -1
		case ps[a] > ps[b]:
			return 1
		}
		return 0
	})
	q := make([]float64, m)
	running := 1.0
	for r := m - 1; r >= 0; r-- {
		i := idx[r]
		running = math.Min(running, ps[i]*float64(m)/float64(r+1))
		q[i] = math.Min(1, running)
	}
	return q
}
