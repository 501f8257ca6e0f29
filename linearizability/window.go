package linearizability

import (
	"fmt"
	"io"

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
