// Package raftlogtest is the conformance suite of the raftlog SPI.
package raftlogtest
