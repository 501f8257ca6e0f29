package linearizability

import (
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/anishathalye/porcupine"
)

// FaultWindow is the span of one injected fault, on the history's clock.
type FaultWindow struct {
	// Nemesis names the nemesis ("crash", "fsync", "kill", "pause").
	Nemesis string `json:"nemesis"`
	// Detail says what was done ("power loss, 37% of unsynced blocks kept").
	Detail string `json:"detail,omitempty"`
	// Start and End bound the fault; End is Infinity if it never ended.
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

func (w FaultWindow) String() string {
	return fmt.Sprintf("%s [%d, %d]: %s", w.Nemesis, w.Start, w.End, w.Detail)
}

// nemesisColors gives each nemesis a background in the timeline.
var nemesisColors = map[string]string{
	"crash": "#f4b6b6",
	"fsync": "#f6d58e",
	"kill":  "#e3b6f4",
	"pause": "#b6d7f4",
}

// Annotations turns fault windows into porcupine annotations on a
// "nemesis" row of the timeline.
func Annotations(windows []FaultWindow) []porcupine.Annotation {
	out := make([]porcupine.Annotation, 0, len(windows))
	for _, w := range windows {
		end := w.End
		if end == Infinity || end < w.Start {
			end = w.Start
		}
		color := nemesisColors[w.Nemesis]
		if color == "" {
			color = "#dddddd"
		}
		out = append(out, porcupine.Annotation{
			Tag:             "nemesis",
			Start:           w.Start,
			End:             end,
			Description:     w.Nemesis,
			Details:         w.Detail,
			BackgroundColor: color,
		})
	}
	return out
}

// Visualize writes porcupine's HTML timeline of a checked history, with the
// fault windows as annotations. info must come from a verbose check
// (porcupine.CheckOperationsVerbose).
func Visualize(w io.Writer, model porcupine.Model, info porcupine.LinearizationInfo, windows []FaultWindow) error {
	info.AddAnnotations(Annotations(windows))
	if err := porcupine.Visualize(model, info, w); err != nil {
		return fmt.Errorf("linearizability: timeline: %w", err)
	}
	return nil
}

// FaultLog records fault windows on a clock. It is safe for concurrent use.
type FaultLog struct {
	clock Clock

	mu      sync.Mutex
	windows []FaultWindow
}

// NewFaultLog returns a log stamping with clock.
func NewFaultLog(clock Clock) *FaultLog { return &FaultLog{clock: clock} }

// Open records the start of a fault and returns its handle.
func (l *FaultLog) Open(nemesis, detail string) int {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.windows = append(l.windows, FaultWindow{Nemesis: nemesis, Detail: detail, Start: now, End: Infinity})
	return len(l.windows) - 1
}

// Close records the end of fault w, adding more (if any) to its detail.
func (l *FaultLog) Close(w int, more string) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.windows[w].End = now
	if more != "" {
		if l.windows[w].Detail != "" {
			l.windows[w].Detail += "; "
		}
		l.windows[w].Detail += more
	}
}

// Len returns the number of fault windows opened.
func (l *FaultLog) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.windows)
}

// Windows returns a copy of the fault windows.
func (l *FaultLog) Windows() []FaultWindow {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.windows)
}
