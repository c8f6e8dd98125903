//go:build !cgo || purego

package mpi

// Native reports whether this build can reach Open MPI (it needs cgo).
const Native = false

// Without cgo there is no MPI: a process launched by mpirun is refused.
func start() (*Comm, error) { return nil, errNoMPI }

func sumF32([]float32) error { return errNoMPI }
func sumF64([]float64) error { return errNoMPI }
func maxF64([]float64) error { return errNoMPI }
func barrier() error         { return errNoMPI }
func finalize() error        { return errNoMPI }
func abort(int)              {}
