//go:build !linux && !darwin

package encoder

// systemMemory returns 0: the memory of this system is not known.
func systemMemory() (uint64, string) { return 0, "" }
