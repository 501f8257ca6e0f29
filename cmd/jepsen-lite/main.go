// Command jepsen-lite checks the crash safety of storage engines of every
// ordeal family: it runs a seeded workload while a nemesis cuts the power,
// fails an fsync, kills or pauses the engine's process, and checks the
// history with porcupine. See package jepsenlite for the commands and exit
// codes.
package main

import (
	"os"

	"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
)

func main() { os.Exit(jepsenlite.Main(os.Args[1:])) }
