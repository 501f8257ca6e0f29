package raftlogmodel

import (
	"github.com/anishathalye/porcupine"

	"github.com/ordeal-dev/ordeal/linearizability"
)

func checkWhole(m porcupine.Model, h *History) linearizability.Verdict {
	return linearizability.FromPorcupine(porcupine.CheckOperationsTimeout(m, h.Operations(), 0))
}
