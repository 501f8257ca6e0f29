package adapterwl_test

// The built-in suites name the streams family too.
import _ "github.com/ordeal-dev/ordeal/workloads/streamswl"
