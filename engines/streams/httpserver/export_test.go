package httpserver

import "github.com/ordeal-dev/ordeal/engines/streams"

// NewWithBugs returns a Handler with planted defects.
func NewWithBugs(s streams.Store, o Options, noTouch, noClosedHeader bool) *Handler {
	h := New(s, o)
	h.bugs = bugs{noTouch: noTouch, noClosedHeader: noClosedHeader}
	return h
}
