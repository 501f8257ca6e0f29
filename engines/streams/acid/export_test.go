package acid

// GroupStats returns and resets the group commits made since the last call
// and the appends they carried.
func GroupStats() (batches, appends int64) {
	return groupBatches.Swap(0), groupRequests.Swap(0)
}
