package faults

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Link is the state of the network path from one node to another, as a
// fault layer in the target's transport applies it to every message on
// that path. The zero Link delivers everything at once.
type Link struct {
	// Cut drops everything: the path refuses connections and closes those
	// it has.
	Cut bool `json:"cut,omitempty"`
	// Delay holds every message back this long, plus a uniform share of
	// Jitter.
	Delay  time.Duration `json:"delay,omitempty"`
	Jitter time.Duration `json:"jitter,omitempty"`
	// Drop is the probability that a message is lost; over a stream
	// transport (TCP) the loss resets the connection that carried it.
	Drop float64 `json:"drop,omitempty"`
}

// Net is the network between a target's nodes: Links[i][j] is the path
// from node i to node j. A nil Net, or a nil row, is a network with every
// link up.
type Net struct {
	Links [][]Link
}

// Link returns the path from i to j.
func (n Net) Link(i, j int) Link {
	if i < len(n.Links) && j < len(n.Links[i]) {
		return n.Links[i][j]
	}
	return Link{}
}

// NewNet returns a network of n nodes with every link up.
func NewNet(n int) Net {
	links := make([][]Link, n)
	for i := range links {
		links[i] = make([]Link, n)
	}
	return Net{Links: links}
}

// cut cuts the paths between a and b, both ways.
func (n Net) cut(a, b int) {
	n.Links[a][b].Cut, n.Links[b][a].Cut = true, true
}

// PartitionTarget is a target made of nodes that talk over a network the
// target controls through a fault layer in its transport (a proxy between
// every pair of nodes, so no firewall rule is needed). Nodes are numbered
// from 0 and named n1, n2, ... in fault details.
type PartitionTarget interface {
	Target
	// Nodes is the number of nodes.
	Nodes() int
	// Leader returns the node that leads now, or -1 when none is known.
	Leader() int
	// SetNet applies net to every path between the nodes, closing the
	// connections a cut path carries; NewNet(Nodes()) heals everything.
	SetNet(net Net) error
}

func partitionTarget(name string, t Target) (PartitionTarget, error) {
	pt, ok := t.(PartitionTarget)
	if !ok || pt.Nodes() < 3 {
		return nil, fmt.Errorf("%w: %s needs a target of three nodes or more with a fault layer in its network", ErrUnavailable, name)
	}
	return pt, nil
}

// partitionNemesis cuts, slows or thins the network between a target's
// nodes for a few operations, then heals it. Each fault is one of: the
// nodes split into a majority and a minority; one node isolated (the
// leader in half of these); a bridge (two halves that cannot reach each
// other, and one node that reaches both); every link delayed; every link
// lossy.
type partitionNemesis struct{}

func (partitionNemesis) Name() string { return "partition" }

func (n partitionNemesis) Available(t Target) error {
	_, err := partitionTarget(n.Name(), t)
	return err
}

// PartitionKinds are the shapes a partition fault takes, in the order the
// nemesis draws them from.
var PartitionKinds = []string{"majority-minority", "isolate", "isolate-leader", "bridge", "delay", "drop"}

func (n partitionNemesis) Inject(ctx context.Context, log *slog.Logger, t Target, rng *rand.Rand) (*Fault, error) {
	pt, err := partitionTarget(n.Name(), t)
	if err != nil {
		return nil, err
	}
	kind := PartitionKinds[rng.IntN(len(PartitionKinds))]
	hold := 2 + rng.IntN(8)
	net, what, err := PlanPartition(kind, pt.Nodes(), pt.Leader(), rng)
	if err != nil {
		return nil, err
	}
	f := &Fault{Nemesis: n.Name(), Detail: fmt.Sprintf("%s: %s, for %d operations, then healed", kind, what, hold)}
	log.Info("nemesis", "fault", f.Detail, "armed", true)
	if err := pt.SetNet(net); err != nil {
		return f, err
	}
	waited := 0
	f.await = func(ctx context.Context, f *Fault) (bool, error) {
		if waited++; waited < hold {
			return false, nil
		}
		log.Info("nemesis", "fault", "heal the network")
		return true, pt.SetNet(NewNet(pt.Nodes()))
	}
	return f, nil
}

// PlanPartition draws the network of one partition fault of the given
// kind over nodes nodes, leader being the node that leads (-1: none
// known), and describes it. Every choice comes from rng, except which
// node leads. An unknown kind, or fewer than three nodes, is an error
// wrapping ErrBadArgument.
func PlanPartition(kind string, nodes, leader int, rng *rand.Rand) (Net, string, error) {
	if nodes < 3 {
		return Net{}, "", fmt.Errorf("%w: a partition of %d nodes", ErrBadArgument, nodes)
	}
	net := NewNet(nodes)
	perm := rng.Perm(nodes)
	switch kind {
	case "majority-minority":
		minority := 1 + rng.IntN((nodes-1)/2)
		small, big := perm[:minority], perm[minority:]
		for _, a := range small {
			for _, b := range big {
				net.cut(a, b)
			}
		}
		return net, fmt.Sprintf("%s | %s", nodeSet(small), nodeSet(big)), nil
	case "isolate", "isolate-leader":
		victim, why := perm[0], ""
		if kind == "isolate-leader" {
			if leader >= 0 && leader < nodes {
				victim = leader
				why = " (the leader)"
			} else {
				why = " (no leader known: a node drawn at random)"
			}
		}
		for b := range nodes {
			if b != victim {
				net.cut(victim, b)
			}
		}
		return net, fmt.Sprintf("%s isolated%s", nodeName(victim), why), nil
	case "bridge":
		bridge, rest := perm[0], perm[1:]
		half := len(rest) / 2
		left, right := rest[:half], rest[half:]
		for _, a := range left {
			for _, b := range right {
				net.cut(a, b)
			}
		}
		return net, fmt.Sprintf("%s | %s, bridged by %s", nodeSet(left), nodeSet(right), nodeName(bridge)), nil
	case "delay":
		d := time.Duration(5+rng.IntN(95)) * time.Millisecond
		j := time.Duration(rng.IntN(50)) * time.Millisecond
		for i := range nodes {
			for k := range nodes {
				if i != k {
					net.Links[i][k].Delay, net.Links[i][k].Jitter = d, j
				}
			}
		}
		return net, fmt.Sprintf("every message delayed %v plus up to %v", d, j), nil
	case "drop":
		p := float64(5+rng.IntN(26)) / 100
		for i := range nodes {
			for k := range nodes {
				if i != k {
					net.Links[i][k].Drop = p
				}
			}
		}
		return net, fmt.Sprintf("every message lost with probability %.2f", p), nil
	}
	return Net{}, "", fmt.Errorf("%w: partition kind %q (want one of %s)", ErrBadArgument, kind, strings.Join(PartitionKinds, ", "))
}

func nodeName(i int) string { return fmt.Sprintf("n%d", i+1) }

func nodeSet(nodes []int) string {
	s := slices.Sorted(slices.Values(nodes))
	names := make([]string, len(s))
	for i, n := range s {
		names[i] = nodeName(n)
	}
	return "{" + strings.Join(names, ",") + "}"
}

func init() {
	RegisterNemesis(partitionNemesis{})
}
