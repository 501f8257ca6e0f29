package kvlog

import (
	"fmt"
	"strconv"

	"github.com/ordeal-dev/ordeal/engines/raftlog"
)

// Factory adapts an engine's Open to raftlog.Factory. An error comes with a
// nil Engine, not a nil pointer in a non-nil interface.
func Factory[E raftlog.Engine](open func(raftlog.Options) (E, error)) raftlog.Factory {
	return func(o raftlog.Options) (raftlog.Engine, error) {
		e, err := open(o)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

// ParseOptions checks the Options of an engine on kvlog, which needs a
// directory and takes one boolean parameter, param: it returns the value of
// param, or def if it is unset. Every error wraps raftlog.ErrBadOption.
func ParseOptions(engine string, o raftlog.Options, param string, def bool) (bool, error) {
	if err := raftlog.CheckParams(engine, o.Params, param); err != nil {
		return false, err
	}
	value := def
	if v, ok := o.Params[param]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%w: engine %s: parameter %s=%q is not a boolean", raftlog.ErrBadOption, engine, param, v)
		}
		value = b
	}
	if o.Dir == "" {
		return false, fmt.Errorf("%w: engine %s needs a directory", raftlog.ErrBadOption, engine)
	}
	return value, nil
}
