package workloads

import (
	"testing"
)

func testSpec(t testing.TB, mutate func(*Spec)) *Spec {
	t.Helper()
	s := NoopSpec(1, Duration(1e8))
	if mutate != nil {
		mutate(&s)
	}
	if errs := s.Validate(); len(errs) > 0 {
		t.Fatalf("spec: %v", errs)
	}
	return &s
}

func TestGenDeterministic(t *testing.T) {
	s := testSpec(t, func(s *Spec) {
		s.Value = SizeDist{Dist: DistUniform, Min: 10, Max: 1000}
		s.Batch = SizeDist{Dist: DistList, Values: []Size{1, 8, 64}}
	})
	a, b, c := NewGen(s, 7, 0), NewGen(s, 7, 0), NewGen(s, 7, 1)
	same, differ := true, false
	for range 1000 {
		va, vb, vc := a.ValueSize(), b.ValueSize(), c.ValueSize()
		if va != vb {
			same = false
		}
		if va != vc {
			differ = true
		}
		if va < 10 || va > 1000 {
			t.Fatalf("value size %d outside [10, 1000]", va)
		}
		if bs := a.BatchSize(); bs != 1 && bs != 8 && bs != 64 {
			t.Fatalf("batch size %d not from the list", bs)
		}
		b.BatchSize()
	}
	if !same {
		t.Error("two generators with the same seed and worker differ")
	}
	if !differ {
		t.Error("workers 0 and 1 draw the same sizes")
	}
}

func TestKeyDistributions(t *testing.T) {
	const n, draws = 1000, 100000
	for _, tc := range []struct {
		dist string
		// share of draws landing on the 10 hottest keys: uniform ~1%,
		// zipfian 0.99 over 1000 keys ~ 39%.
		minTop10, maxTop10 float64
		newest             bool // the hottest key is the newest
	}{
		{KeysUniform, 0.005, 0.02, false},
		{KeysZipfian, 0.30, 0.50, false},
		{KeysLatest, 0.30, 0.50, true},
	} {
		t.Run(tc.dist, func(t *testing.T) {
			s := testSpec(t, func(s *Spec) { s.Keys = KeyDist{Dist: tc.dist, Theta: 0.99, Count: n} })
			g := NewGen(s, 1, 0)
			counts := make([]int, n)
			for range draws {
				k := g.Key(n)
				if k >= n {
					t.Fatalf("key %d out of range", k)
				}
				counts[k]++
			}
			sorted := append([]int(nil), counts...)
			for i := range sorted {
				for j := i + 1; j < len(sorted); j++ {
					if sorted[j] > sorted[i] {
						sorted[i], sorted[j] = sorted[j], sorted[i]
					}
				}
				if i == 10 {
					break
				}
			}
			top := 0
			for _, c := range sorted[:10] {
				top += c
			}
			share := float64(top) / draws
			if share < tc.minTop10 || share > tc.maxTop10 {
				t.Errorf("top-10 share %.3f, want %.3f..%.3f", share, tc.minTop10, tc.maxTop10)
			}
			if tc.newest && counts[n-1] != sorted[0] {
				t.Errorf("newest key drawn %d times, hottest %d", counts[n-1], sorted[0])
			}
		})
	}
}

func TestPickerCycleExact(t *testing.T) {
	fam := testFamily{}
	RegisterFamilyOnce(t, fam)
	s := Spec{Name: "c", Family: fam.Name(), Mix: map[string]float64{"a": 3, "b": 1}, Pick: PickCycle}
	p := newPicker(&s)
	counts := map[int]int{}
	var seq []int
	for range 8 {
		op := p.next(nil)
		counts[op]++
		seq = append(seq, op)
	}
	if counts[0] != 6 || counts[1] != 2 {
		t.Fatalf("cycle of a:3 b:1 over 8 picks gave %v (%v)", counts, seq)
	}
	if seq[0] == 1 && seq[1] == 1 {
		t.Errorf("b not spread through the cycle: %v", seq)
	}
}
