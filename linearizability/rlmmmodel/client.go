package rlmmmodel

import "github.com/ordeal-dev/ordeal/engines/tiered"

// Client is the recorder seen as a tiered.RemoteLogMetadataManager, for a
// caller written against the SPI (a broker): adds, updates, lookups,
// highest-offset queries and lists are recorded as one client's
// operations; every other method goes to the recorder's manager
// unrecorded.
type Client struct {
	r  *Recorder
	id int
}

var _ tiered.RemoteLogMetadataManager = (*Client)(nil)

// Client returns the recorder as a manager whose calls are client id's.
func (r *Recorder) Client(id int) *Client { return &Client{r: r, id: id} }

func (c *Client) AddRemoteLogSegmentMetadata(m tiered.RemoteLogSegmentMetadata) error {
	return c.r.Add(c.id, m)
}

func (c *Client) UpdateRemoteLogSegmentMetadata(u tiered.RemoteLogSegmentMetadataUpdate) error {
	return c.r.Update(c.id, u)
}

func (c *Client) RemoteLogSegmentMetadata(tp tiered.TopicIDPartition, epoch int32, offset int64) (tiered.RemoteLogSegmentMetadata, bool, error) {
	return c.r.Lookup(c.id, tp, epoch, offset)
}

func (c *Client) HighestOffsetForEpoch(tp tiered.TopicIDPartition, epoch int32) (int64, bool, error) {
	return c.r.Highest(c.id, tp, epoch)
}

func (c *Client) ListRemoteLogSegments(tp tiered.TopicIDPartition) ([]tiered.RemoteLogSegmentMetadata, error) {
	return c.r.List(c.id, tp)
}

func (c *Client) PutRemotePartitionDeleteMetadata(d tiered.RemotePartitionDeleteMetadata) error {
	return c.r.Manager().PutRemotePartitionDeleteMetadata(d)
}

func (c *Client) ListRemoteLogSegmentsForEpoch(tp tiered.TopicIDPartition, epoch int32) ([]tiered.RemoteLogSegmentMetadata, error) {
	return c.r.Manager().ListRemoteLogSegmentsForEpoch(tp, epoch)
}

func (c *Client) OnPartitionLeadershipChanges(leaders, followers []tiered.TopicIDPartition) error {
	return c.r.Manager().OnPartitionLeadershipChanges(leaders, followers)
}

func (c *Client) OnStopPartitions(partitions []tiered.TopicIDPartition) error {
	return c.r.Manager().OnStopPartitions(partitions)
}

func (c *Client) RemoteLogSize(tp tiered.TopicIDPartition, epoch int32) (int64, error) {
	return c.r.Manager().RemoteLogSize(tp, epoch)
}

func (c *Client) Capabilities() tiered.Capabilities { return c.r.Manager().Capabilities() }

func (c *Client) Close() error { return c.r.Manager().Close() }
