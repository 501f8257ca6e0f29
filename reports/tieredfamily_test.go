package reports

// The built-in suites name the tiered family too.
import _ "github.com/ordeal-dev/ordeal/workloads/tieredwl"
