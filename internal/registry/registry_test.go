package registry

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := New[func() int]()
	if got := r.Names(); len(got) != 0 {
		t.Fatalf("empty registry names = %v", got)
	}
	for _, tc := range []struct {
		name string
		val  int
		want bool
	}{
		{"b", 2, true},
		{"a", 1, true},
		{"c", 3, true},
		{"a", 9, false},
	} {
		v := tc.val
		if got := r.Register(tc.name, func() int { return v }); got != tc.want {
			t.Errorf("Register(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got, want := r.Names(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name string
		val  int
		ok   bool
	}{
		{"a", 1, true}, // the duplicate did not replace the first
		{"b", 2, true},
		{"c", 3, true},
		{"d", 0, false},
		{"", 0, false},
	} {
		f, ok := r.Lookup(tc.name)
		if ok != tc.ok {
			t.Errorf("Lookup(%q) ok = %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if ok && f() != tc.val {
			t.Errorf("Lookup(%q)() = %d, want %d", tc.name, f(), tc.val)
		}
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := New[int]()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.Register(string(rune('a'+i)), i)
			r.Names()
			r.Lookup("a")
		}()
	}
	wg.Wait()
	if got := len(r.Names()); got != 8 {
		t.Fatalf("registered %d names, want 8", got)
	}
}

var errBad = errors.New("x: bad option")

func TestCheckParams(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		p       map[string]string
		known   []string
		unknown string
	}{
		{"nil params", nil, nil, ""},
		{"all known", map[string]string{"a": "1", "b": "2"}, []string{"a", "b", "c"}, ""},
		{"one unknown", map[string]string{"a": "1", "z": "2"}, []string{"a"}, "z"},
		{"first sorted unknown", map[string]string{"y": "1", "x": "2", "a": "3"}, []string{"a"}, "x"},
		{"nothing known", map[string]string{"k": ""}, nil, "k"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			k, bad := UnknownParam(tc.p, tc.known)
			if bad != (tc.unknown != "") || k != tc.unknown {
				t.Fatalf("UnknownParam = %q, %v; want %q", k, bad, tc.unknown)
			}
			err := CheckParams(errBad, "engine e", tc.p, tc.known)
			if tc.unknown == "" {
				if err != nil {
					t.Fatalf("CheckParams = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, errBad) {
				t.Fatalf("CheckParams = %v, want it to wrap %v", err, errBad)
			}
			if want := `x: bad option: engine e has no parameter "` + tc.unknown + `"`; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("CheckParams = %q, want prefix %q", err, want)
			}
		})
	}
}
