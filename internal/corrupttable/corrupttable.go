// Package corrupttable makes the corruption table: for every reference
// engine and peer, and every kind of damage, what the engine did over many
// seeded trials of its suite's corruption case. TestTable, behind
// ORDEAL_LONG=1, runs the trials and prints the table; this file formats
// it.
//
//	ORDEAL_LONG=1 go test ./internal/corrupttable -run TestTable -v -timeout 2h
//
// With ORDEAL_CORRUPT_TABLE=path the table is also written to path, and
// ORDEAL_CORRUPT_SEEDS=n runs n seeds per cell instead of 20.
package corrupttable

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ordeal-dev/ordeal/internal/corruptcase"
)

// Row is one engine's results.
type Row struct {
	Engine  string
	Results []corruptcase.Result
}

// Cell counts the outcomes of one engine under one column.
type Cell map[corruptcase.Outcome]int

// Cells groups a row's results by column.
func (r Row) Cells() map[corruptcase.Column]Cell {
	out := map[corruptcase.Column]Cell{}
	for _, res := range r.Results {
		c := out[res.Trial.Column]
		if c == nil {
			c = Cell{}
			out[res.Trial.Column] = c
		}
		c[res.Outcome]++
	}
	return out
}

// Passes reports whether every outcome in c passes.
func (c Cell) Passes() bool {
	for o, n := range c {
		if n > 0 && !o.Pass() {
			return false
		}
	}
	return len(c) > 0
}

// String lists the outcomes worst first, those that fail in bold:
// "**3 crash**, 17 corrupt".
func (c Cell) String() string {
	if len(c) == 0 {
		return "-"
	}
	outs := corruptcase.Outcomes()
	slices.Reverse(outs)
	var parts []string
	for _, o := range outs {
		n := c[o]
		if n == 0 {
			continue
		}
		s := fmt.Sprintf("%d %s", n, o)
		if !o.Pass() {
			s = "**" + s + "**"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// Markdown formats rows as a table, one column per corruptcase.Column, and
// a last column saying whether the engine passed every trial.
func Markdown(rows []Row) string {
	cols := corruptcase.Columns()
	var b strings.Builder
	b.WriteString("| engine |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s |", c)
	}
	b.WriteString(" verdict |\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, r := range rows {
		cells := r.Cells()
		fmt.Fprintf(&b, "| %s |", r.Engine)
		pass := len(r.Results) > 0
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", cells[c])
			pass = pass && cells[c].Passes()
		}
		verdict := "pass"
		if !pass {
			verdict = "FAIL"
		}
		fmt.Fprintf(&b, " %s |\n", verdict)
	}
	return b.String()
}

// Failures lists, for the evidence, every trial that did not pass.
func Failures(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		for _, res := range r.Results {
			if !res.Outcome.Pass() {
				fmt.Fprintf(&b, "%s: %s\n", r.Engine, res)
			}
		}
	}
	return b.String()
}
