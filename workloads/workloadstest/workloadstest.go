// Package workloadstest helps tests run workloads cut short.
package workloadstest

import (
	"context"
	"os"

	"github.com/ordeal-dev/ordeal/workloads"
)

// RunShort runs spec on engine. A short window can close before any
// operation counts or moves an item, since one fsync on a loaded machine can
// outlast it: then it runs again, in a new directory under cfg.Dir, with ten
// times the duration, so that an empty outcome means the workload did
// nothing.
func RunShort(ctx context.Context, spec *workloads.Spec, engine string, cfg workloads.Config) (*workloads.Outcome, error) {
	o, err := workloads.Run(ctx, spec, engine, cfg)
	if err != nil || (o.Ops+o.Missed > 0 && o.Items > 0) {
		return o, err
	}
	long := spec.Clone()
	long.Duration *= 10
	if cfg.Dir != "" {
		dir, err := os.MkdirTemp(cfg.Dir, "long-")
		if err != nil {
			return nil, err
		}
		cfg.Dir = dir
	}
	return workloads.Run(ctx, &long, engine, cfg)
}
