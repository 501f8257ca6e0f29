package durable

import (
	"github.com/ordeal-dev/ordeal/engines/tiered"
	"github.com/ordeal-dev/ordeal/engines/tiered/internal/metacache"
)

type metacacheRecord = metacache.Record

func addRecord(s tiered.RemoteLogSegmentMetadata) metacache.Record {
	return metacache.Record{Kind: metacache.KindAdd, Segment: s}
}
