package rlmmmodel

import (
	"errors"

	"github.com/ordeal-dev/ordeal/engines/tiered"
)

// Client is the recorder seen as a tiered.RemoteLogMetadataManager, for a
// caller written against the SPI (a broker): every method but
// Capabilities and Close is recorded as one client's operation.
type Client struct {
	r  *Recorder
	id int
}

var _ tiered.RemoteLogMetadataManager = (*Client)(nil)

// Client returns the recorder as a manager whose calls are client id's.
func (r *Recorder) Client(id int) *Client { return &Client{r: r, id: id} }

// errOf turns an output back into an error of its class.
func errOf(out Output) error {
	var s error
	switch out.Err {
	case ErrNone:
		return nil
	case ErrInvalidTransition:
		s = tiered.ErrInvalidTransition
	case ErrNotFound:
		s = tiered.ErrRemoteResourceNotFound
	case ErrInvalidArgument:
		s = tiered.ErrInvalidArgument
	case ErrPartitionDeleted:
		s = tiered.ErrPartitionDeleted
	case ErrNotAssigned:
		s = tiered.ErrPartitionNotAssigned
	case ErrCorrupt:
		s = tiered.ErrCorrupt
	case ErrClosed:
		s = tiered.ErrClosed
	default:
		s = tiered.ErrFailed
	}
	return errors.Join(s, errors.New(out.Message))
}

func (c *Client) meta(tp tiered.TopicIDPartition, s Seg) tiered.RemoteLogSegmentMetadata {
	m, _ := s.Metadata(tp)
	return m
}

func (c *Client) AddRemoteLogSegmentMetadata(m tiered.RemoteLogSegmentMetadata) error {
	return errOf(c.r.Add(c.id, m))
}

func (c *Client) UpdateRemoteLogSegmentMetadata(u tiered.RemoteLogSegmentMetadataUpdate) error {
	return errOf(c.r.Update(c.id, u.ID, u.State))
}

func (c *Client) RemoteLogSegmentMetadata(tp tiered.TopicIDPartition, epoch int32, offset int64) (tiered.RemoteLogSegmentMetadata, bool, error) {
	out := c.r.Do(c.id, Input{Kind: KindLookup, TP: TP(tp), Epoch: epoch, Offset: offset})
	if !out.Found {
		return tiered.RemoteLogSegmentMetadata{}, false, errOf(out)
	}
	return c.meta(tp, out.Seg), true, errOf(out)
}

func (c *Client) HighestOffsetForEpoch(tp tiered.TopicIDPartition, epoch int32) (int64, bool, error) {
	out := c.r.Do(c.id, Input{Kind: KindHighest, TP: TP(tp), Epoch: epoch})
	return out.Offset, out.Found, errOf(out)
}

func (c *Client) list(tp tiered.TopicIDPartition, out Output) ([]tiered.RemoteLogSegmentMetadata, error) {
	ms := make([]tiered.RemoteLogSegmentMetadata, len(out.List))
	for i, s := range out.List {
		ms[i] = c.meta(tp, s)
	}
	return ms, errOf(out)
}

func (c *Client) ListRemoteLogSegments(tp tiered.TopicIDPartition) ([]tiered.RemoteLogSegmentMetadata, error) {
	return c.list(tp, c.r.Do(c.id, Input{Kind: KindList, TP: TP(tp)}))
}

func (c *Client) ListRemoteLogSegmentsForEpoch(tp tiered.TopicIDPartition, epoch int32) ([]tiered.RemoteLogSegmentMetadata, error) {
	return c.list(tp, c.r.Do(c.id, Input{Kind: KindListEpoch, TP: TP(tp), Epoch: epoch}))
}

func (c *Client) RemoteLogSize(tp tiered.TopicIDPartition, epoch int32) (int64, error) {
	out := c.r.Do(c.id, Input{Kind: KindSize, TP: TP(tp), Epoch: epoch})
	return out.Size, errOf(out)
}

func (c *Client) PutRemotePartitionDeleteMetadata(d tiered.RemotePartitionDeleteMetadata) error {
	return errOf(c.r.Do(c.id, Input{Kind: KindPartitionDelete, TP: TP(d.TopicIDPartition), PartitionState: d.State}))
}

func (c *Client) OnPartitionLeadershipChanges(leaders, followers []tiered.TopicIDPartition) error {
	return errOf(c.r.Do(c.id, Input{Kind: KindAssign, Leaders: names(leaders), Followers: names(followers)}))
}

func (c *Client) OnStopPartitions(partitions []tiered.TopicIDPartition) error {
	return errOf(c.r.Do(c.id, Input{Kind: KindStop, Stopped: names(partitions)}))
}

func (c *Client) Capabilities() tiered.Capabilities { return c.r.Manager().Capabilities() }

func (c *Client) Close() error { return c.r.Manager().Close() }
