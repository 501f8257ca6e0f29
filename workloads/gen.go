package workloads

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
)

// Gen is one worker's seeded source of sizes, keys and payload bytes. It is
// not safe for concurrent use; each worker has its own.
type Gen struct {
	// Rand is the worker's random source, seeded from the run seed and the
	// worker's id.
	Rand    *rand.Rand
	value   SizeDist
	batch   SizeDist
	keys    KeyDist
	zipf    *zipfian
	payload []byte
	pick    picker
}

// payloadSize bounds the random bytes entries are sliced from.
const payloadSize = 4 << 20

// NewGen returns the generator of worker id for a spec and run seed.
func NewGen(s *Spec, seed uint64, id int) *Gen {
	g := &Gen{
		Rand:  rand.New(rand.NewPCG(seed, uint64(id)+1)),
		value: s.Value,
		batch: s.Batch,
		keys:  s.Keys,
	}
	if s.Keys.Dist != KeysUniform {
		g.zipf = sharedZipfian(uint64(max(1, s.Keys.Count)), s.Keys.Theta)
	}
	g.payload = sharedPayload(seed)
	g.pick = newPicker(s)
	return g
}

// ValueSize draws a value size.
func (g *Gen) ValueSize() int { return int(g.draw(g.value)) }

// BatchSize draws a batch size (at least 1).
func (g *Gen) BatchSize() int { return max(1, int(g.draw(g.batch))) }

func (g *Gen) draw(d SizeDist) Size {
	switch d.Dist {
	case DistUniform:
		return d.Min + Size(g.Rand.Int64N(int64(d.Max-d.Min)+1))
	case DistList:
		return d.Values[g.Rand.IntN(len(d.Values))]
	}
	return d.Size
}

// Bytes returns n read-only payload bytes at a random offset. The caller must
// not modify them.
func (g *Gen) Bytes(n int) []byte {
	if n <= 0 {
		return nil
	}
	if n >= len(g.payload) {
		out := make([]byte, n)
		for i := 0; i < n; i += len(g.payload) {
			copy(out[i:], g.payload)
		}
		return out
	}
	off := g.Rand.IntN(len(g.payload) - n + 1)
	return g.payload[off : off+n : off+n]
}

// Key draws a position in a key space of n keys, 0 the oldest and n-1 the
// newest: uniform; zipfian (popular keys scattered by a hash); latest
// (zipfian popularity counted back from the newest).
func (g *Gen) Key(n uint64) uint64 {
	if n <= 1 {
		return 0
	}
	switch g.keys.Dist {
	case KeysZipfian:
		r := g.zipf.next(g.Rand)
		h := fnv.New64a()
		var b [8]byte
		for i := range b {
			b[i] = byte(r >> (8 * i))
		}
		h.Write(b[:])
		return h.Sum64() % n
	case KeysLatest:
		r := g.zipf.next(g.Rand) % n
		return n - 1 - r
	}
	return g.Rand.Uint64N(n)
}

// NextOp draws the next operation (an index into the family's Ops).
func (g *Gen) NextOp() int { return g.pick.next(g.Rand) }

// zipfian draws ranks 0..n-1 with P(r) proportional to 1/(r+1)^theta, by the
// method of Gray et al. ("Quickly generating billion-record synthetic
// databases"), as YCSB does.
type zipfian struct {
	n                  uint64
	theta, alpha, zeta float64
	eta, half          float64
}

func newZipfian(n uint64, theta float64) *zipfian {
	zeta := 0.0
	for i := uint64(1); i <= n; i++ {
		zeta += 1 / math.Pow(float64(i), theta)
	}
	zeta2 := 1 + 1/math.Pow(2, theta)
	return &zipfian{
		n: n, theta: theta, zeta: zeta,
		alpha: 1 / (1 - theta),
		eta:   (1 - math.Pow(2/float64(n), 1-theta)) / (1 - zeta2/zeta),
		half:  1 + math.Pow(0.5, theta),
	}
}

func (z *zipfian) next(r *rand.Rand) uint64 {
	u := r.Float64()
	uz := u * z.zeta
	switch {
	case uz < 1:
		return 0
	case uz < z.half:
		return min(1, z.n-1)
	}
	v := uint64(float64(z.n) * math.Pow(z.eta*u-z.eta+1, z.alpha))
	return min(v, z.n-1)
}

var (
	cacheMu      sync.Mutex
	zipfCache    = map[string]*zipfian{}
	payloadCache = map[uint64][]byte{}
)

func sharedZipfian(n uint64, theta float64) *zipfian {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	k := strconv.FormatUint(n, 10) + "/" + strconv.FormatFloat(theta, 'g', -1, 64)
	if z, ok := zipfCache[k]; ok {
		return z
	}
	z := newZipfian(n, theta)
	zipfCache[k] = z
	return z
}

func sharedPayload(seed uint64) []byte {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if p, ok := payloadCache[seed]; ok {
		return p
	}
	p := make([]byte, payloadSize)
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for i := 0; i+8 <= len(p); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	if len(payloadCache) > 8 {
		clear(payloadCache)
	}
	payloadCache[seed] = p
	return p
}

// picker draws operations by weight: independently (random) or as a smooth
// weighted round robin (cycle), which gives exact counts per cycle and
// spreads each operation evenly through it.
type picker struct {
	ops     []int     // family op indexes
	weights []float64 // same order
	cum     []float64 // random: cumulative weights
	cycle   bool
	current []float64 // cycle: running scores
	total   float64
}

func newPicker(s *Spec) picker {
	var p picker
	fam, err := LookupFamily(s.Family)
	if err != nil {
		return p
	}
	for _, name := range s.Ops() {
		idx := opIndex(fam, name)
		if idx < 0 {
			continue
		}
		p.ops = append(p.ops, idx)
		p.weights = append(p.weights, s.Mix[name])
		p.total += s.Mix[name]
		p.cum = append(p.cum, p.total)
	}
	p.cycle = s.Pick == PickCycle
	p.current = make([]float64, len(p.ops))
	return p
}

func (p *picker) next(r *rand.Rand) int {
	switch len(p.ops) {
	case 0:
		return 0
	case 1:
		return p.ops[0]
	}
	if p.cycle {
		best := 0
		for i, w := range p.weights {
			p.current[i] += w
			if p.current[i] > p.current[best] {
				best = i
			}
		}
		p.current[best] -= p.total
		return p.ops[best]
	}
	u := r.Float64() * p.total
	i, _ := slices.BinarySearch(p.cum, u)
	return p.ops[min(i, len(p.ops)-1)]
}
