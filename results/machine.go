package results

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CollectMachine describes this machine; dir is where the engines write,
// whose file system type it records.
func CollectMachine(dir string) Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: cpuModel(), MemoryBytes: memTotal(), FileSystem: FileSystemType(dir)}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return m
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func memTotal() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

var fsMagic = map[int64]string{
	0xef53: "ext4", 0x58465342: "xfs", 0x9123683e: "btrfs", 0x01021994: "tmpfs",
	0x794c7630: "overlayfs", 0x2fc12fc1: "zfs", 0x65735546: "fuse", 0x6969: "nfs",
	0xf2f52010: "f2fs", 0x5346544e: "ntfs", 0x4d44: "vfat",
}

// FileSystemType names the file system dir is on ("ext4", "tmpfs").
func FileSystemType(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return ""
	}
	if name, ok := fsMagic[int64(st.Type)]; ok {
		return name
	}
	return "0x" + strconv.FormatInt(int64(st.Type), 16)
}

// Fingerprint identifies the kind of machine a run measured: a hash of
// the CPU model, the number of cores, the memory in whole GiB, the
// operating system, architecture and kernel release, and the scratch
// file system's type. Two runs compare only if their fingerprints match.
func (m Machine) Fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "cpu=%s\ncores=%d\nmem_gib=%d\nos=%s\narch=%s\nkernel=%s\nfs=%s\n",
		m.CPU, m.Cores, (m.MemoryBytes+1<<29)>>30, m.OS, m.Arch, m.Kernel, m.FileSystem)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Differences lists the fields of the fingerprint in which m and o differ
// ("cores 2 vs 16").
func (m Machine) Differences(o Machine) []string {
	var d []string
	add := func(name string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			d = append(d, fmt.Sprintf("%s %v vs %v", name, a, b))
		}
	}
	add("cpu", m.CPU, o.CPU)
	add("cores", m.Cores, o.Cores)
	add("memory GiB", (m.MemoryBytes+1<<29)>>30, (o.MemoryBytes+1<<29)>>30)
	add("os", m.OS, o.OS)
	add("arch", m.Arch, o.Arch)
	add("kernel", m.Kernel, o.Kernel)
	add("file system", m.FileSystem, o.FileSystem)
	return d
}

// buildCommit is the commit a binary was built from, set by the linker
// (-X github.com/ordeal-dev/ordeal/results.buildCommit=SHA) when the build
// carries no VCS stamp, as bench ab's builds of a git revision do.
var buildCommit string

// GitCommit returns the commit the binary was built from (from the build
// info or the linker, else from git in the working directory) and whether
// the tree had changes.
func GitCommit() (commit string, dirty bool) {
	if buildCommit != "" {
		return buildCommit, false
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if commit != "" {
		return commit, dirty
	}
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	commit = strings.TrimSpace(string(out))
	st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	return commit, err == nil && len(bytes.TrimSpace(st)) > 0
}
