package faults

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Parse returns the injector whose text form is s (see the package
// documentation, "Text form"). String of the result gives s back in
// canonical form. A trigger parses disarmed.
func Parse(s string) (Injector, error) {
	inj, err := parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", s, err)
	}
	return inj, nil
}

func parse(s string) (Injector, error) {
	name, args, err := splitCall(s)
	if err != nil {
		return nil, err
	}
	switch name {
	case "none":
		if args != nil {
			return nil, fmt.Errorf("%w: none takes no arguments", ErrSyntax)
		}
		return None, nil
	case "any":
		injs := make([]Injector, 0, len(args))
		for _, a := range args {
			inj, err := parse(a)
			if err != nil {
				return nil, err
			}
			injs = append(injs, inj)
		}
		return Any(injs...), nil
	case "trigger":
		if len(args) != 2 {
			return nil, fmt.Errorf("%w: trigger takes an operation kind and an errno, as in trigger(sync,EIO)", ErrSyntax)
		}
		kind, err := parseKindName(args[0])
		if err != nil {
			return nil, err
		}
		errno, err := ParseErrno(args[1])
		if err != nil {
			return nil, err
		}
		return NewTrigger(kind, errno), nil
	case "latency":
		return parseLatency(args)
	case "corrupt":
		return nil, fmt.Errorf("%w: corrupt(...) damages files at rest and is no injector: read it with ParseCorruption", ErrSyntax)
	}
	kindPart, errnoName, ok := strings.Cut(name, "-")
	if !ok {
		return nil, fmt.Errorf("%w: unknown injector %q (want none, any, trigger, latency or <kind>-<errno> such as sync-eio)", ErrSyntax, name)
	}
	kind, err := parseKindName(kindPart)
	if err != nil {
		return nil, err
	}
	errno, err := ParseErrno(errnoName)
	if err != nil {
		return nil, err
	}
	return parseRule(kind, errno, args)
}

// splitCall splits "name(a,b)" into name and its top-level arguments; args
// is nil when there are no parentheses.
func splitCall(s string) (name string, args []string, err error) {
	open := strings.IndexByte(s, '(')
	if open < 0 {
		if strings.ContainsAny(s, ")=, \t") || s == "" {
			return "", nil, fmt.Errorf("%w: %q is not an injector", ErrSyntax, s)
		}
		return s, nil, nil
	}
	name = s[:open]
	if name == "" {
		return "", nil, fmt.Errorf("%w: missing injector name before %q", ErrSyntax, s)
	}
	if !strings.HasSuffix(s, ")") {
		return "", nil, fmt.Errorf("%w: %q does not end with ')'", ErrSyntax, s)
	}
	body := s[open+1 : len(s)-1]
	args = []string{}
	depth, start := 0, 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return "", nil, fmt.Errorf("%w: unbalanced ')' in %q", ErrSyntax, s)
			}
		case ',':
			if depth == 0 {
				args = append(args, strings.TrimSpace(body[start:i]))
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return "", nil, fmt.Errorf("%w: unbalanced '(' in %q", ErrSyntax, s)
	}
	if last := strings.TrimSpace(body[start:]); last != "" || len(args) > 0 {
		args = append(args, last)
	}
	for _, a := range args {
		if a == "" {
			return "", nil, fmt.Errorf("%w: empty argument in %q", ErrSyntax, s)
		}
	}
	return name, args, nil
}

// keyValues parses key=value arguments, refusing unknown and repeated keys.
func keyValues(what string, args []string, allowed ...string) (map[string]string, error) {
	kv := make(map[string]string, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%w: %s argument %q is not key=value", ErrSyntax, what, a)
		}
		known := false
		for _, name := range allowed {
			known = known || name == k
		}
		if !known {
			return nil, fmt.Errorf("%w: %s takes no argument %q (known: %s)", ErrSyntax, what, k, strings.Join(allowed, ", "))
		}
		if _, dup := kv[k]; dup {
			return nil, fmt.Errorf("%w: %s argument %q given twice", ErrSyntax, what, k)
		}
		kv[k] = v
	}
	return kv, nil
}

// parseChance reads p and seed: p defaults to 1, and seed is required
// exactly when p is strictly between 0 and 1.
func parseChance(what string, kv map[string]string) (p float64, seed uint64, err error) {
	p = 1
	if v, ok := kv["p"]; ok {
		p, err = strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 1 {
			return 0, 0, fmt.Errorf("%w: %s: p must be a probability in [0,1], got %q", ErrSyntax, what, v)
		}
	}
	v, hasSeed := kv["seed"]
	if p > 0 && p < 1 && !hasSeed {
		return 0, 0, fmt.Errorf("%w: %s: p=%s needs a seed", ErrSyntax, what, kv["p"])
	}
	if hasSeed {
		if p >= 1 || p <= 0 {
			return 0, 0, fmt.Errorf("%w: %s: seed is used only with 0 < p < 1", ErrSyntax, what)
		}
		seed, err = strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %s: seed must be an unsigned integer, got %q", ErrSyntax, what, v)
		}
	}
	return p, seed, nil
}

func parseRule(kind OpKind, errno syscall.Errno, args []string) (Injector, error) {
	what := kindName(kind) + "-" + strings.ToLower(ErrnoName(errno))
	kv, err := keyValues(what, args, "path", "p", "seed", "index", "after")
	if err != nil {
		return nil, err
	}
	_, hasIndex := kv["index"]
	_, hasAfter := kv["after"]
	_, hasP := kv["p"]
	if (hasIndex && hasAfter) || ((hasIndex || hasAfter) && hasP) {
		return nil, fmt.Errorf("%w: %s: p, index and after exclude one another", ErrSyntax, what)
	}
	var r *Rule
	switch {
	case hasIndex:
		n, err := strconv.Atoi(kv["index"])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s: index must be a count from 0, got %q", ErrSyntax, what, kv["index"])
		}
		if _, ok := kv["seed"]; ok {
			return nil, fmt.Errorf("%w: %s: seed is used only with 0 < p < 1", ErrSyntax, what)
		}
		r = OnIndex(kind, errno, n)
	case hasAfter:
		if _, ok := kv["seed"]; ok {
			return nil, fmt.Errorf("%w: %s: seed is used only with 0 < p < 1", ErrSyntax, what)
		}
		n, err := ParseSize(kv["after"])
		if err != nil {
			return nil, fmt.Errorf("%s: after: %w", what, err)
		}
		r = AfterBytes(kind, errno, n)
	default:
		p, seed, err := parseChance(what, kv)
		if err != nil {
			return nil, err
		}
		r = RandomErrors(kind, errno, p, seed)
	}
	if glob, ok := kv["path"]; ok {
		c, err := r.OnPath(glob)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrSyntax, what, err)
		}
		return c, nil
	}
	return r, nil
}

func parseLatency(args []string) (Injector, error) {
	kv, err := keyValues("latency", args, "op", "path", "d", "p", "seed")
	if err != nil {
		return nil, err
	}
	var kind OpKind
	if v, ok := kv["op"]; ok {
		if kind, err = parseKindName(v); err != nil {
			return nil, err
		}
	}
	v, ok := kv["d"]
	if !ok {
		return nil, fmt.Errorf("%w: latency needs a duration d, as in latency(op=sync,d=5ms)", ErrSyntax)
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return nil, fmt.Errorf("%w: latency: d must be a duration such as 5ms, got %q", ErrSyntax, v)
	}
	p, seed, err := parseChance("latency", kv)
	if err != nil {
		return nil, err
	}
	l := RandomLatency(kind, d, p, seed)
	if glob, ok := kv["path"]; ok {
		c, err := l.OnPath(glob)
		if err != nil {
			return nil, fmt.Errorf("%w: latency: %w", ErrSyntax, err)
		}
		return c, nil
	}
	return l, nil
}
