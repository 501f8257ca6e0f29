// Package lazyfs is a FUSE file system that holds unsynced writes and
// directory entries in memory and loses them at a simulated power loss.
package lazyfs
