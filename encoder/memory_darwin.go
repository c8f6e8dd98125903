package encoder

import "golang.org/x/sys/unix"

// systemMemory returns the machine's physical memory, or 0 if unknown.
func systemMemory() (uint64, string) {
	n, err := unix.SysctlUint64("hw.memsize")
	if err != nil {
		return 0, ""
	}
	return n, "hw.memsize"
}
