package linearizability

import (
	"math"
	"sync"
	"time"
)

// Infinity is the return time of an operation whose outcome is unknown and
// unbounded: it may take effect at any point after its call.
const Infinity int64 = math.MaxInt64

// Clock stamps calls and returns. Now is safe for concurrent use and
// strictly increasing: no two stamps from one clock are equal.
type Clock interface {
	Now() int64
}

// Monotonic is a Clock in nanoseconds since its base instant, read from the
// monotonic clock.
type Monotonic struct {
	base time.Time
	mu   sync.Mutex
	last int64
}

// NewMonotonic returns a clock whose zero is now.
func NewMonotonic() *Monotonic { return &Monotonic{base: time.Now()} }

// Now implements Clock.
func (c *Monotonic) Now() int64 {
	d := int64(time.Since(c.base))
	c.mu.Lock()
	defer c.mu.Unlock()
	if d <= c.last {
		d = c.last + 1
	}
	c.last = d
	return d
}

// Logical is a Clock that counts: each Now returns the next integer. A
// deterministic scheduler stamps with it so that a replay is exact.
type Logical struct {
	mu sync.Mutex
	n  int64
}

// Now implements Clock.
func (c *Logical) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}
