// Package faults injects file-system faults under storage engines that do
// their I/O through pebble's vfs.FS: failed syncs with Linux semantics,
// I/O errors, a full disk, latency, and power loss with torn writes.
package faults
