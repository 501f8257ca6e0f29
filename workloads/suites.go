package workloads

import (
	"embed"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
)

//go:embed suites/*.yaml
var builtinSuites embed.FS

// SuiteNames lists the built-in suites.
func SuiteNames() []string {
	entries, err := builtinSuites.ReadDir("suites")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(names)
	return names
}

// LoadSuite returns a built-in suite by name ("quick", "nightly") or reads a
// suite file.
func LoadSuite(nameOrFile string) (*Suite, error) {
	if slices.Contains(SuiteNames(), nameOrFile) {
		file := path.Join("suites", nameOrFile+".yaml")
		data, err := builtinSuites.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return ParseSuite(file, data)
	}
	data, err := os.ReadFile(nameOrFile)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%w %q: not a built-in suite %v nor a file", ErrUnknownSuite, nameOrFile, SuiteNames())
		}
		return nil, err
	}
	return ParseSuite(nameOrFile, data)
}
