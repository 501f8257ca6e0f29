package workloads

import "golang.org/x/sys/unix"

type unixStatfs = unix.Statfs_t

func statfs(dir string, st *unix.Statfs_t) error { return unix.Statfs(dir, st) }
