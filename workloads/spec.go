package workloads

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Mode is how the driver issues operations.
type Mode string

const (
	// Closed runs Workers goroutines, each issuing its next operation as
	// soon as the previous one returns.
	Closed Mode = "closed"
	// Open issues operations on a fixed schedule at Rate, whatever the
	// engine's speed; latency is measured from each operation's intended
	// start, which corrects coordinated omission.
	Open Mode = "open"
)

// Picking orders of the op mix.
const (
	PickRandom = "random" // each op drawn independently by weight
	PickCycle  = "cycle"  // a smooth weighted round robin: exact counts per cycle
)

// Size distributions.
const (
	DistFixed   = "fixed"
	DistUniform = "uniform"
	DistList    = "list"
)

// Key distributions.
const (
	KeysUniform = "uniform"
	KeysZipfian = "zipfian"
	KeysLatest  = "latest"
)

// SizeDist draws sizes: fixed, uniform in [min, max], or uniformly from a
// list of values.
type SizeDist struct {
	Dist   string `yaml:"dist,omitempty" json:"dist"`
	Size   Size   `yaml:"size,omitempty" json:"size,omitempty"`
	Min    Size   `yaml:"min,omitempty" json:"min,omitempty"`
	Max    Size   `yaml:"max,omitempty" json:"max,omitempty"`
	Values []Size `yaml:"values,omitempty" json:"values,omitempty"`
}

func (d SizeDist) String() string {
	switch d.Dist {
	case DistUniform:
		return fmt.Sprintf("uniform(%s..%s)", d.Min, d.Max)
	case DistList:
		s := make([]string, len(d.Values))
		for i, v := range d.Values {
			s[i] = v.String()
		}
		return "list(" + strings.Join(s, ",") + ")"
	}
	return d.Size.String()
}

// Mean is the expected size.
func (d SizeDist) Mean() float64 {
	switch d.Dist {
	case DistUniform:
		return float64(d.Min+d.Max) / 2
	case DistList:
		var t float64
		for _, v := range d.Values {
			t += float64(v)
		}
		return t / float64(max(1, len(d.Values)))
	}
	return float64(d.Size)
}

// KeyDist draws positions in a key space (for the raftlog family: which
// entries a read touches).
type KeyDist struct {
	Dist  string  `yaml:"dist,omitempty" json:"dist"`
	Theta float64 `yaml:"theta,omitempty" json:"theta,omitempty"`
	// Count is the size of the zipfian rank space; ranks above the live key
	// count wrap around.
	Count int64 `yaml:"count,omitempty" json:"count,omitempty"`
}

// Sweep expands one workload into one workload per value of a field.
type Sweep struct {
	// Field is value.size, batch.size, workers, rate or params.NAME.
	Field  string   `yaml:"field" json:"field"`
	Values []string `yaml:"values" json:"values"`
}

// Spec is one workload.
type Spec struct {
	Name        string   `yaml:"name,omitempty" json:"name"`
	Family      string   `yaml:"family,omitempty" json:"family"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Mode        Mode     `yaml:"mode,omitempty" json:"mode"`
	Workers     int      `yaml:"workers,omitempty" json:"workers"`
	Rate        Rate     `yaml:"rate,omitempty" json:"rate,omitzero"`
	Duration    Duration `yaml:"duration,omitempty" json:"duration"`
	Warmup      Duration `yaml:"warmup,omitempty" json:"warmup"`
	// Preload is how many items the family writes before the run (raftlog:
	// entries).
	Preload Size     `yaml:"preload,omitempty" json:"preload,omitempty"`
	Value   SizeDist `yaml:"value,omitempty" json:"value"`
	Batch   SizeDist `yaml:"batch,omitempty" json:"batch"`
	Keys    KeyDist  `yaml:"keys,omitempty" json:"keys"`
	// Mix maps operation names of the family to relative weights.
	Mix  map[string]float64 `yaml:"mix,omitempty" json:"mix"`
	Pick string             `yaml:"pick,omitempty" json:"pick"`
	// Params are family-specific settings.
	Params map[string]string `yaml:"params,omitempty" json:"params,omitempty"`
	Sweep  *Sweep            `yaml:"sweep,omitempty" json:"sweep,omitempty"`
	// Labels name the sweep point this spec was expanded from
	// ({"value": "1KiB"}); the benchmark name carries them.
	Labels map[string]string `yaml:"-" json:"labels,omitempty"`
	// Base is the workload name before sweep expansion.
	Base string `yaml:"-" json:"base,omitempty"`
}

// Suite is a named list of workloads with shared defaults.
type Suite struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	Defaults    Spec   `yaml:"defaults,omitempty" json:"-"`
	Workloads   []Spec `yaml:"workloads" json:"workloads"`
	// File is where the suite was read from.
	File string `yaml:"-" json:"file,omitempty"`
}

// BuiltinDefaults are the settings a workload has unless its suite or
// itself sets them.
func BuiltinDefaults() Spec {
	return Spec{
		Mode:     Closed,
		Workers:  1,
		Duration: Duration(2 * time.Second),
		Warmup:   Duration(500 * time.Millisecond),
		Value:    SizeDist{Dist: DistFixed, Size: 256},
		Batch:    SizeDist{Dist: DistFixed, Size: 1},
		Keys:     KeyDist{Dist: KeysZipfian, Theta: 0.99, Count: 10000},
		Pick:     PickRandom,
	}
}

// Clone returns a deep copy.
func (s Spec) Clone() Spec {
	c := s
	c.Value.Values = slices.Clone(s.Value.Values)
	c.Batch.Values = slices.Clone(s.Batch.Values)
	c.Mix = maps.Clone(s.Mix)
	c.Params = maps.Clone(s.Params)
	c.Labels = maps.Clone(s.Labels)
	if s.Sweep != nil {
		sw := *s.Sweep
		sw.Values = slices.Clone(s.Sweep.Values)
		c.Sweep = &sw
	}
	return c
}

// Param returns a family parameter or def.
func (s *Spec) Param(name, def string) string {
	if v, ok := s.Params[name]; ok {
		return v
	}
	return def
}

// Ops returns the mix's operation names, sorted.
func (s *Spec) Ops() []string { return slices.Sorted(maps.Keys(s.Mix)) }

// FieldError is a validation error about one field of a spec.
type FieldError struct {
	Field string // relative to the workload: value.size, mix.purge
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// nameRE accepts a workload name, with the label suffixes of a sweep point.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*(/[a-z0-9._-]+=[A-Za-z0-9._%-]+)*$`)

// Validate checks a spec against its family's operations and parameters.
func (s *Spec) Validate() []FieldError {
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{field, fmt.Sprintf(format, args...)})
	}
	if !nameRE.MatchString(s.Name) {
		add("name", "%q: want lower-case letters, digits, '.', '_' or '-'", s.Name)
	}
	fam, famErr := LookupFamily(s.Family)
	if famErr != nil {
		add("family", "unknown family %q (known: %v)", s.Family, FamilyNames())
	}
	switch s.Mode {
	case Closed:
		if !s.Rate.IsZero() {
			add("rate", "a closed-loop workload has no rate (set mode: open)")
		}
	case Open:
		if s.Rate.IsZero() {
			add("rate", "an open-loop workload needs a rate (ops/s or a percentage of the probed maximum)")
		}
	default:
		add("mode", "%q: want closed or open", s.Mode)
	}
	if s.Workers < 1 || s.Workers > 1024 {
		add("workers", "%d: want 1..1024", s.Workers)
	}
	if s.Duration <= 0 {
		add("duration", "%s: want > 0", s.Duration)
	}
	if s.Warmup < 0 {
		add("warmup", "%s: want >= 0", s.Warmup)
	}
	if s.Preload < 0 || s.Preload > 100_000_000 {
		add("preload", "%d: want 0..100000000", s.Preload)
	}
	errs = append(errs, validateSizeDist("value", s.Value, 0, 64<<20)...)
	errs = append(errs, validateSizeDist("batch", s.Batch, 1, 1_000_000)...)
	switch s.Keys.Dist {
	case KeysUniform, KeysLatest, KeysZipfian:
	default:
		add("keys.dist", "%q: want uniform, zipfian or latest", s.Keys.Dist)
	}
	if s.Keys.Dist != KeysUniform && (s.Keys.Theta <= 0 || s.Keys.Theta >= 1) {
		add("keys.theta", "%g: want 0 < theta < 1", s.Keys.Theta)
	}
	if s.Keys.Count < 1 || s.Keys.Count > 10_000_000 {
		add("keys.count", "%d: want 1..10000000", s.Keys.Count)
	}
	switch s.Pick {
	case PickRandom, PickCycle:
	default:
		add("pick", "%q: want random or cycle", s.Pick)
	}
	if len(s.Mix) == 0 {
		add("mix", "empty: name at least one operation with a weight")
	}
	for _, op := range s.Ops() {
		w := s.Mix[op]
		if fam != nil && !slices.Contains(opNames(fam), op) {
			add("mix."+op, "unknown operation for family %s (known: %v)", s.Family, opNames(fam))
		}
		if !(w > 0) || math.IsInf(w, 0) {
			add("mix."+op, "weight %g: want > 0", w)
		} else if s.Pick == PickCycle && (w != math.Trunc(w) || w > 1e6) {
			add("mix."+op, "weight %g: pick: cycle needs whole weights up to 1000000", w)
		}
	}
	if famErr == nil {
		known := fam.Params()
		for _, k := range slices.Sorted(maps.Keys(s.Params)) {
			i := slices.IndexFunc(known, func(p Param) bool { return p.Name == k })
			if i < 0 {
				names := make([]string, len(known))
				for j, p := range known {
					names[j] = p.Name
				}
				add("params."+k, "unknown parameter for family %s (known: %v)", s.Family, names)
				continue
			}
			if known[i].Check != nil {
				if err := known[i].Check(s.Params[k]); err != nil {
					add("params."+k, "%v", err)
				}
			}
		}
		if len(errs) == 0 {
			errs = append(errs, fam.Validate(s)...)
		}
	}
	return errs
}

func validateSizeDist(field string, d SizeDist, lo, hi Size) []FieldError {
	var errs []FieldError
	add := func(f, format string, args ...any) {
		errs = append(errs, FieldError{field + f, fmt.Sprintf(format, args...)})
	}
	check := func(f string, v Size) {
		if v < lo || v > hi {
			add(f, "%d: want %d..%d", v, lo, hi)
		}
	}
	switch d.Dist {
	case DistFixed:
		check(".size", d.Size)
		if d.Min != 0 || d.Max != 0 || len(d.Values) > 0 {
			add(".dist", "fixed takes only size")
		}
	case DistUniform:
		check(".min", d.Min)
		check(".max", d.Max)
		if d.Min > d.Max {
			add(".min", "%d is above max %d", d.Min, d.Max)
		}
		if d.Size != 0 || len(d.Values) > 0 {
			add(".dist", "uniform takes only min and max")
		}
	case DistList:
		if len(d.Values) == 0 {
			add(".values", "empty: list needs values")
		}
		for i, v := range d.Values {
			check(fmt.Sprintf(".values[%d]", i), v)
		}
		if d.Size != 0 || d.Min != 0 || d.Max != 0 {
			add(".dist", "list takes only values")
		}
	default:
		add(".dist", "%q: want fixed, uniform or list", d.Dist)
	}
	return errs
}

// ParseSuite reads a suite from YAML. Every error is a *SpecError naming
// file:line and the field.
func ParseSuite(file string, data []byte) (*Suite, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(file, err)
	}
	if len(root.Content) == 0 {
		return nil, &SpecError{File: file, Line: 1, Msg: "empty suite"}
	}
	// The strict pass rejects unknown fields and bad scalars with lines.
	var strict Suite
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&strict); err != nil {
		return nil, yamlError(file, err)
	}
	doc := root.Content[0]
	suite := &Suite{Name: strict.Name, Description: strict.Description, File: file}
	if suite.Name == "" {
		return nil, &SpecError{File: file, Line: doc.Line, Field: "name", Msg: "missing suite name"}
	}
	defaults := BuiltinDefaults()
	if dn := lookup(doc, "defaults"); dn != nil {
		if err := decodeOver(dn, &defaults); err != nil {
			return nil, yamlError(file, err)
		}
		if defaults.Name != "" || defaults.Sweep != nil || len(defaults.Mix) > 0 {
			return nil, &SpecError{File: file, Line: dn.Line, Field: "defaults", Msg: "defaults may not set name, mix or sweep"}
		}
	}
	suite.Defaults = defaults
	wl := lookup(doc, "workloads")
	if wl == nil || wl.Kind != yaml.SequenceNode || len(wl.Content) == 0 {
		line := doc.Line
		if wl != nil {
			line = wl.Line
		}
		return nil, &SpecError{File: file, Line: line, Field: "workloads", Msg: "want a non-empty list of workloads"}
	}
	seen := map[string]int{}
	for i, wn := range wl.Content {
		spec := defaults.Clone()
		if err := decodeOver(wn, &spec); err != nil {
			return nil, yamlError(file, err)
		}
		field := fmt.Sprintf("workloads[%d]", i)
		if spec.Name != "" {
			field = fmt.Sprintf("workloads[%d](%s)", i, spec.Name)
		}
		expanded, ferr := expand(spec)
		if ferr != nil {
			return nil, specErrorAt(file, wn, field, *ferr)
		}
		for _, s := range expanded {
			if errs := s.Validate(); len(errs) > 0 {
				return nil, specErrorAt(file, wn, field, errs[0])
			}
			if line, dup := seen[s.Name]; dup {
				return nil, &SpecError{File: file, Line: wn.Line, Col: wn.Column, Field: field + ".name",
					Msg: fmt.Sprintf("workload %q already defined at line %d", s.Name, line)}
			}
			seen[s.Name] = wn.Line
			suite.Workloads = append(suite.Workloads, s)
		}
	}
	return suite, nil
}

// decodeOver decodes a workload node over inherited settings. A
// distribution the node sets replaces the inherited one whole (a list of
// batch sizes does not keep an inherited fixed size); a key distribution
// keeps the default theta and count unless it sets them.
func decodeOver(n *yaml.Node, s *Spec) error {
	if lookup(n, "value") != nil {
		s.Value = SizeDist{}
	}
	if lookup(n, "batch") != nil {
		s.Batch = SizeDist{}
	}
	if lookup(n, "keys") != nil {
		s.Keys = KeyDist{}
	}
	if err := n.Decode(s); err != nil {
		return err
	}
	def := BuiltinDefaults()
	if s.Keys.Theta == 0 && s.Keys.Dist != KeysUniform {
		s.Keys.Theta = def.Keys.Theta
	}
	if s.Keys.Count == 0 {
		s.Keys.Count = def.Keys.Count
	}
	return nil
}

// expand applies a spec's sweep.
func expand(s Spec) ([]Spec, *FieldError) {
	if s.Sweep == nil {
		return []Spec{s}, nil
	}
	sw := *s.Sweep
	if len(sw.Values) == 0 {
		return nil, &FieldError{"sweep.values", "empty: a sweep needs values"}
	}
	label := sw.Field
	if p, ok := strings.CutPrefix(sw.Field, "params."); ok {
		label = p
	} else if p, ok := strings.CutSuffix(sw.Field, ".size"); ok {
		label = p
	}
	var out []Spec
	for i, v := range sw.Values {
		c := s.Clone()
		c.Sweep = nil
		field := fmt.Sprintf("sweep.values[%d]", i)
		switch {
		case sw.Field == "value.size" || sw.Field == "batch.size":
			n, err := ParseSize(v)
			if err != nil {
				return nil, &FieldError{field, err.Error()}
			}
			d := SizeDist{Dist: DistFixed, Size: n}
			if sw.Field == "value.size" {
				c.Value = d
			} else {
				c.Batch = d
			}
			v = n.String()
		case sw.Field == "workers":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, &FieldError{field, fmt.Sprintf("%q: want an integer", v)}
			}
			c.Workers = n
		case sw.Field == "rate":
			r, err := ParseRate(v)
			if err != nil {
				return nil, &FieldError{field, err.Error()}
			}
			c.Rate = r
		case strings.HasPrefix(sw.Field, "params.") && label != "":
			if c.Params == nil {
				c.Params = map[string]string{}
			}
			c.Params[label] = v
		default:
			return nil, &FieldError{"sweep.field", fmt.Sprintf("%q: want value.size, batch.size, workers, rate or params.NAME", sw.Field)}
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[label] = v
		c.Base = s.Name
		c.Name = s.Name + "/" + label + "=" + v
		out = append(out, c)
	}
	return out, nil
}

// lookup returns the value node of key in a mapping node.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func specErrorAt(file string, wn *yaml.Node, prefix string, fe FieldError) *SpecError {
	n := findField(wn, fe.Field)
	return &SpecError{File: file, Line: n.Line, Col: n.Column, Field: prefix + "." + fe.Field, Msg: fe.Msg}
}

// findField walks a workload node along a dotted path and returns the
// deepest node found (the key node of the last mapping key, or a sequence
// element).
func findField(wn *yaml.Node, path string) *yaml.Node {
	cur, best := wn, wn
	for part := range strings.SplitSeq(path, ".") {
		name, idx := part, -1
		if j := strings.IndexByte(part, '['); j >= 0 && strings.HasSuffix(part, "]") {
			name = part[:j]
			if v, err := strconv.Atoi(part[j+1 : len(part)-1]); err == nil {
				idx = v
			}
		}
		if cur == nil || cur.Kind != yaml.MappingNode {
			break
		}
		var key, val *yaml.Node
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == name {
				key, val = cur.Content[i], cur.Content[i+1]
			}
		}
		if key == nil {
			break
		}
		best, cur = key, val
		if idx >= 0 {
			if val.Kind == yaml.SequenceNode && idx < len(val.Content) {
				best, cur = val.Content[idx], val.Content[idx]
			}
		}
	}
	return best
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
var unknownFieldRE = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)

// yamlError turns a yaml error into a *SpecError.
func yamlError(file string, err error) error {
	var se *SpecError
	if errors.As(err, &se) {
		c := *se
		c.File = file
		return &c
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return lineError(file, te.Errors[0])
	}
	return lineError(file, err.Error())
}

func lineError(file, msg string) *SpecError {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return &SpecError{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	if u := unknownFieldRE.FindStringSubmatch(rest); u != nil {
		return &SpecError{File: file, Line: line, Field: u[1], Msg: "unknown field (in " + typeName(u[2]) + ")"}
	}
	return &SpecError{File: file, Line: line, Msg: rest}
}

func typeName(t string) string {
	switch t {
	case "workloads.Suite":
		return "suite: name, description, defaults, workloads"
	case "workloads.Spec":
		return "workload: name, family, description, mode, workers, rate, duration, warmup, preload, value, batch, keys, mix, pick, params, sweep"
	case "workloads.SizeDist":
		return "size distribution: dist, size, min, max, values"
	case "workloads.KeyDist":
		return "key distribution: dist, theta, count"
	case "workloads.Sweep":
		return "sweep: field, values"
	}
	return t
}
