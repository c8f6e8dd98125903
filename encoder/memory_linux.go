package encoder

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// systemMemory returns the bytes this process can still allocate and what
// bounds them: the smallest of MemAvailable (or MemTotal) in /proc/meminfo,
// the cgroup's memory limit less its usage, and the address-space limit
// less the process's size. It returns 0 if none is known.
func systemMemory() (uint64, string) {
	var n uint64
	var source string
	least := func(v uint64, s string) {
		if v > 0 && (n == 0 || v < n) {
			n, source = v, s
		}
	}
	info := procFields("/proc/meminfo")
	if v, ok := info["MemAvailable"]; ok {
		least(v, "MemAvailable in /proc/meminfo")
	} else if v, ok := info["MemTotal"]; ok {
		least(v, "MemTotal in /proc/meminfo")
	}
	if v, ok := cgroupLeft(); ok {
		least(v, "the cgroup's memory limit")
	}
	var lim syscall.Rlimit
	const unlimited = ^uint64(0) // RLIM_INFINITY
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil && lim.Cur != unlimited {
		size := procFields("/proc/self/status")["VmSize"]
		least(max(lim.Cur, size)-size, "ulimit -v")
	}
	return n, source
}

// procFields reads the "Name:   123 kB" lines of a /proc file, in bytes.
func procFields(path string) map[string]uint64 {
	out := map[string]uint64{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		value, ok2 := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		if !ok || !ok2 {
			continue
		}
		if v, err := strconv.ParseUint(value, 10, 64); err == nil && v <= 1<<53 {
			out[name] = v << 10
		}
	}
	return out
}

// cgroupLeft returns what the memory limit of this process's cgroup
// (version 2, else version 1) leaves, if it has one.
func cgroupLeft() (uint64, bool) {
	var v1, v2 string // the process's cgroup paths
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				v2 = parts[2]
			case strings.Contains(","+parts[1]+",", ",memory,"):
				v1 = parts[2]
			}
		}
	}
	read := func(path string) (uint64, bool) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return v, err == nil // "max" for no limit fails here
	}
	// Inside a cgroup namespace the process's cgroup is the mount's root.
	for _, dir := range []string{filepath.Join("/sys/fs/cgroup", v2), "/sys/fs/cgroup"} {
		if limit, ok := read(filepath.Join(dir, "memory.max")); ok {
			used, _ := read(filepath.Join(dir, "memory.current"))
			return max(limit, used) - used, true
		}
	}
	for _, dir := range []string{filepath.Join("/sys/fs/cgroup/memory", v1), "/sys/fs/cgroup/memory"} {
		if limit, ok := read(filepath.Join(dir, "memory.limit_in_bytes")); ok {
			used, _ := read(filepath.Join(dir, "memory.usage_in_bytes"))
			return max(limit, used) - used, true
		}
	}
	return 0, false
}
