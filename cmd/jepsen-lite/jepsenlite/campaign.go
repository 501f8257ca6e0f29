package jepsenlite

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ordeal-dev/ordeal/faults"
	"github.com/ordeal-dev/ordeal/linearizability"
)

// Suite is a campaign's size.
type Suite struct {
	Name  string
	Seeds int
	Ops   int
}

// Suites are the named campaign sizes.
var Suites = map[string]Suite{
	"quick":   {Name: "quick", Seeds: 2, Ops: 300},
	"release": {Name: "release", Seeds: 10, Ops: 1000},
	"nightly": {Name: "nightly", Seeds: 50, Ops: 1000},
}

// CampaignConfig is every engine x nemesis x seed.
type CampaignConfig struct {
	Engines   []string
	Nemeses   []string
	Seeds     int
	FirstSeed uint64
	Ops       int
	Clients   int
	// Out keeps the evidence of every run that did not pass, one
	// directory per run, and campaign.json.
	Out         string
	NodeCommand []string
	Log         *slog.Logger
}

// Cell is the outcome of one engine x nemesis pair.
type Cell struct {
	Engine      string   `json:"engine"`
	Nemesis     string   `json:"nemesis"`
	Unavailable string   `json:"unavailable,omitempty"`
	Runs        int      `json:"runs"`
	Ok          int      `json:"ok"`
	Illegal     int      `json:"illegal"`
	Unknown     int      `json:"unknown"`
	Errors      int      `json:"errors"`
	Seconds     float64  `json:"seconds"`
	Failing     []string `json:"failing,omitempty"` // replay commands
}

// Campaign runs every engine against every nemesis for Seeds seeds and
// returns one cell per pair, and the worst verdict (Unknown also for a
// run that could not be made).
func Campaign(ctx context.Context, cc CampaignConfig) ([]Cell, linearizability.Verdict) {
	if cc.Log == nil {
		cc.Log = slog.New(slog.DiscardHandler)
	}
	worst := linearizability.Ok
	var cells []Cell
	for _, e := range cc.Engines {
		for _, n := range cc.Nemeses {
			cell := Cell{Engine: e, Nemesis: n}
			start := time.Now()
			for i := range cc.Seeds {
				if ctx.Err() != nil {
					worst = linearizability.Worst(worst, linearizability.Unknown)
					break
				}
				seed := cc.FirstSeed + uint64(i)
				cfg := Config{Engine: e, Nemeses: []string{n}, Seed: seed, Ops: cc.Ops, Clients: cc.Clients, NodeCommand: cc.NodeCommand, Log: cc.Log, OnlyFailures: true}
				if cc.Out != "" {
					cfg.Out = filepath.Join(cc.Out, strings.ReplaceAll(e, "/", "_"), n, fmt.Sprintf("seed-%d", seed))
				}
				res, err := Run(ctx, cfg)
				if err != nil && res == nil {
					if errors.Is(err, faults.ErrUnavailable) {
						cell.Unavailable = err.Error()
						break
					}
					cell.Errors++
					cell.Failing = append(cell.Failing, fmt.Sprintf("seed %d: %v", seed, err))
					worst = linearizability.Worst(worst, linearizability.Unknown)
					continue
				}
				cell.Runs++
				switch res.Verdict {
				case linearizability.Ok:
					cell.Ok++
				case linearizability.Illegal:
					cell.Illegal++
					cell.Failing = append(cell.Failing, res.Command)
				default:
					cell.Unknown++
					cell.Failing = append(cell.Failing, res.Command)
				}
				worst = linearizability.Worst(worst, res.Verdict)
				cc.Log.Info("run", "engine", e, "nemesis", n, "seed", seed, "verdict", res.Verdict, "wall", res.Wall)
			}
			cell.Seconds = time.Since(start).Seconds()
			cells = append(cells, cell)
		}
	}
	return cells, worst
}

// WriteCells prints the campaign table.
func WriteCells(w io.Writer, cells []Cell) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "engine\tnemesis\truns\tok\tillegal\tunknown\terrors\tseconds")
	for _, c := range cells {
		if c.Unavailable != "" {
			fmt.Fprintf(tw, "%s\t%s\tn/a\t\t\t\t\t\n", c.Engine, c.Nemesis)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.1f\n", c.Engine, c.Nemesis, c.Runs, c.Ok, c.Illegal, c.Unknown, c.Errors, c.Seconds)
	}
	_ = tw.Flush()
	for _, c := range cells {
		for _, f := range c.Failing {
			fmt.Fprintf(w, "FAIL %s x %s: %s\n", c.Engine, c.Nemesis, f)
		}
	}
}

func campaignMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("campaign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	suite := fs.String("suite", "release", "quick, release or nightly")
	seeds := fs.Int("seeds", 0, "seeds per engine x nemesis (default: the suite's)")
	ops := fs.Int("ops", 0, "operations per run (default: the suite's)")
	first := fs.Uint64("first-seed", 1, "first seed")
	clients := fs.Int("clients", 3, "logical clients")
	engines := fs.String("engines", "", "engines, comma-separated (default: every registered engine but the mutants)")
	nemeses := fs.String("nemeses", "", "nemeses, comma-separated (default: all)")
	out := fs.String("out", "", "directory for campaign.json and the evidence of failing runs")
	verbose := fs.Bool("v", false, "log each run")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	s, ok := Suites[*suite]
	if !ok {
		fmt.Fprintf(stderr, "jepsen-lite: unknown suite %q (quick, release, nightly)\n", *suite)
		return ExitUsage
	}
	cc := CampaignConfig{Seeds: s.Seeds, Ops: s.Ops, FirstSeed: *first, Clients: *clients, Out: *out,
		Engines: splitList(*engines), Nemeses: splitList(*nemeses)}
	if *seeds > 0 {
		cc.Seeds = *seeds
	}
	if *ops > 0 {
		cc.Ops = *ops
	}
	if len(cc.Engines) == 0 {
		cc.Engines = ReferenceEngines()
	}
	if len(cc.Nemeses) == 0 {
		for _, n := range faults.Nemeses() {
			cc.Nemeses = append(cc.Nemeses, n.Name())
		}
	}
	if *verbose {
		cc.Log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	start := time.Now()
	cells, worst := Campaign(ctx, cc)
	WriteCells(stdout, cells)
	fmt.Fprintf(stdout, "campaign %s: %v in %v\n", s.Name, worst, time.Since(start).Round(time.Second))
	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		b, _ := json.MarshalIndent(map[string]any{"suite": s.Name, "verdict": worst, "cells": cells}, "", "  ")
		if err := os.WriteFile(filepath.Join(*out, "campaign.json"), append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
	}
	for _, c := range cells {
		if c.Errors > 0 {
			return ExitUsage
		}
	}
	return worst.ExitCode()
}
