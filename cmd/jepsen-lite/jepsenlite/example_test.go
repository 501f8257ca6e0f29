package jepsenlite_test

import (
	"context"
	"fmt"

	"github.com/ordeal-dev/ordeal/cmd/jepsen-lite/jepsenlite"
	_ "github.com/ordeal-dev/ordeal/engines/raftlog/file"
)

// A seeded run of the file engine under power loss, checked.
func ExampleRun() {
	res, err := jepsenlite.Run(context.Background(), jepsenlite.Config{
		Engine:  "file",
		Nemeses: []string{"crash"},
		Seed:    42,
		Ops:     500,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Verdict, res.Faults > 0)
	fmt.Println(res.Command)
	// Output:
	// Ok true
	// jepsen-lite run --engine raftlog/file --nemesis crash --target auto --clients 3 --ops 500 --seed 42
}
