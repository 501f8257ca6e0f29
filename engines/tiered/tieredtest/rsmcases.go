package tieredtest

var rsmCases = []Case{}

var jointCases = []Case{}
