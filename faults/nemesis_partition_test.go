package faults

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// netFake is a PartitionTarget that records the networks it is given.
type netFake struct {
	nodes, leader int
	nets          []Net
}

func (n *netFake) Traits() Traits       { return Traits{Process: true, Persistent: true} }
func (n *netFake) Nodes() int           { return n.nodes }
func (n *netFake) Leader() int          { return n.leader }
func (n *netFake) SetNet(net Net) error { n.nets = append(n.nets, net); return nil }

// cuts lists the cut paths of net as [from, to] pairs.
func cuts(net Net, nodes int) [][2]int {
	var out [][2]int
	for i := range nodes {
		for j := range nodes {
			if net.Link(i, j).Cut {
				out = append(out, [2]int{i, j})
			}
		}
	}
	return out
}

func TestPartitionAvailable(t *testing.T) {
	p := mustNemesis(t, "partition")
	for _, tc := range []struct {
		name string
		t    Target
		ok   bool
	}{
		{"process", &procFake{}, false},
		{"disk", newDiskFake(), false},
		{"two nodes", &netFake{nodes: 2}, false},
		{"three nodes", &netFake{nodes: 3}, true},
		{"five nodes", &netFake{nodes: 5}, true},
	} {
		err := p.Available(tc.t)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrUnavailable)) {
			t.Errorf("%s: Available = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// TestPartitionShapes: each kind cuts, slows or thins what it says, on
// three and five nodes, over many seeds.
func TestPartitionShapes(t *testing.T) {
	for _, nodes := range []int{3, 5} {
		for seed := range uint64(40) {
			for _, kind := range PartitionKinds {
				net, what, err := PlanPartition(kind, nodes, 1, rng(seed))
				must(t, err)
				c := cuts(net, nodes)
				for _, e := range c {
					if !net.Link(e[1], e[0]).Cut {
						t.Fatalf("%s: cut %v is one-way", kind, e)
					}
				}
				// reach[i] is the set of nodes i reaches directly.
				reach := func(i int) int {
					n := 0
					for j := range nodes {
						if j != i && !net.Link(i, j).Cut {
							n++
						}
					}
					return n
				}
				switch kind {
				case "majority-minority":
					// Two sides, each fully connected inside, no path across.
					small := 0
					for i := range nodes {
						if reach(i) < nodes/2 {
							small++
						}
					}
					if small == 0 || small > (nodes-1)/2 || len(c) != 2*small*(nodes-small) {
						t.Fatalf("%s on %d nodes: %d in the minority, %d cuts (%s)", kind, nodes, small, len(c), what)
					}
				case "isolate", "isolate-leader":
					alone := -1
					for i := range nodes {
						if reach(i) == 0 {
							alone = i
						}
					}
					if alone < 0 || len(c) != 2*(nodes-1) {
						t.Fatalf("%s: nobody isolated (%s)", kind, what)
					}
					if kind == "isolate-leader" && alone != 1 {
						t.Fatalf("%s isolated n%d, the leader is n2 (%s)", kind, alone+1, what)
					}
				case "bridge":
					bridges := 0
					for i := range nodes {
						if reach(i) == nodes-1 {
							bridges++
						}
					}
					if bridges != 1 || len(c) == 0 {
						t.Fatalf("%s: %d nodes reach all, %d cuts (%s)", kind, bridges, len(c), what)
					}
				case "delay", "drop":
					if len(c) != 0 {
						t.Fatalf("%s cuts links", kind)
					}
					for i := range nodes {
						for j := range nodes {
							l := net.Link(i, j)
							if i != j && (kind == "delay" && l.Delay <= 0 || kind == "drop" && (l.Drop <= 0 || l.Drop >= 1)) {
								t.Fatalf("%s: link %d->%d is %+v", kind, i, j, l)
							}
						}
					}
				}
			}
		}
	}
	if _, _, err := PlanPartition("flood", 3, -1, rng(1)); !errors.Is(err, ErrBadArgument) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, _, err := PlanPartition("bridge", 2, -1, rng(1)); !errors.Is(err, ErrBadArgument) {
		t.Errorf("two nodes: %v", err)
	}
}

// TestPartitionHeals: a fault sets a network, holds it for a few
// operations and heals every link; the same seed gives the same faults,
// and the seeds reach every kind.
func TestPartitionHeals(t *testing.T) {
	p := mustNemesis(t, "partition")
	inject := func(seed uint64) ([]string, []Net) {
		nf := &netFake{nodes: 5, leader: 3}
		var details []string
		r := rng(seed)
		for range 30 {
			f, err := p.Inject(context.Background(), quiet(), nf, r)
			must(t, err)
			before := len(nf.nets)
			if before == 0 || reflect.DeepEqual(nf.nets[before-1], NewNet(5)) {
				t.Fatalf("%s: set no fault", f.Detail)
			}
			ops := 0
			for !f.Done() {
				done, err := f.Await(context.Background())
				must(t, err)
				ops++
				if !done && len(nf.nets) != before {
					t.Fatalf("%s: healed after %d operations, before its end", f.Detail, ops)
				}
			}
			if ops < 2 || !reflect.DeepEqual(nf.nets[len(nf.nets)-1], NewNet(5)) {
				t.Fatalf("%s: over after %d operations, last network %+v", f.Detail, ops, nf.nets[len(nf.nets)-1])
			}
			details = append(details, f.Detail)
		}
		return details, nf.nets
	}
	d1, n1 := inject(7)
	d2, n2 := inject(7)
	if !reflect.DeepEqual(d1, d2) || !reflect.DeepEqual(n1, n2) {
		t.Fatalf("same seed, different faults:\n%v\n%v", d1, d2)
	}
	d3, _ := inject(8)
	if reflect.DeepEqual(d1, d3) {
		t.Errorf("seeds 7 and 8 give the same faults")
	}
	seen := map[string]bool{}
	for _, d := range append(d1, d3...) {
		for _, k := range PartitionKinds {
			if len(d) > len(k) && d[:len(k)+1] == k+":" {
				seen[k] = true
			}
		}
	}
	if len(seen) != len(PartitionKinds) {
		t.Errorf("kinds reached: %v", seen)
	}
}
