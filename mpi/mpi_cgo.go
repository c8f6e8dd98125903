//go:build cgo && !purego

package mpi

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "mpi.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

// Native reports whether this build can reach Open MPI (it needs cgo).
const Native = true

// libraries are the names tried when $HIERTUNE_MPI_LIB is unset.
var libraries = []string{"libmpi.so.40", "libmpi.so"}

// start loads Open MPI and initialises it on a locked OS thread, which
// then serves every MPI call.
func start() (*Comm, error) {
	libs := libraries
	if p := os.Getenv(LibraryEnv); p != "" {
		libs = []string{p}
	}
	var buf [512]C.char
	loaded := false
	var errs []string
	for _, lib := range libs {
		cs := C.CString(lib)
		rc := C.ht_mpi_load(cs, &buf[0], C.int(len(buf)))
		C.free(unsafe.Pointer(cs))
		if rc == 0 {
			loaded = true
			break
		}
		errs = append(errs, C.GoString(&buf[0]))
	}
	if !loaded {
		return nil, fmt.Errorf("mpi: launched by mpirun, but Open MPI cannot be loaded (%v); install openmpi-bin and libopenmpi-dev (Debian) or set %s", errs, LibraryEnv)
	}
	c := &Comm{ops: make(chan op), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // MPI_THREAD_FUNNELED: this thread only
		defer close(c.done)
		var rank, size C.int
		if rc := C.ht_mpi_start(&rank, &size); rc != 0 {
			ready <- errCode("MPI_Init_thread", int(rc))
			return
		}
		c.rank, c.size = int(rank), int(size)
		ready <- nil
		for o := range c.ops {
			o.done <- o.run()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return c, nil
}

func sumF32(buf []float32) error {
	if len(buf) == 0 {
		return nil
	}
	return errCode("MPI_Allreduce", int(C.ht_mpi_sum_f32((*C.float)(unsafe.Pointer(&buf[0])), C.int(len(buf)))))
}

func sumF64(buf []float64) error {
	if len(buf) == 0 {
		return nil
	}
	return errCode("MPI_Allreduce", int(C.ht_mpi_sum_f64((*C.double)(unsafe.Pointer(&buf[0])), C.int(len(buf)))))
}

func maxF64(buf []float64) error {
	if len(buf) == 0 {
		return nil
	}
	return errCode("MPI_Allreduce", int(C.ht_mpi_max_f64((*C.double)(unsafe.Pointer(&buf[0])), C.int(len(buf)))))
}

func barrier() error  { return errCode("MPI_Barrier", int(C.ht_mpi_wait_all())) }
func finalize() error { return errCode("MPI_Finalize", int(C.ht_mpi_end())) }
func abort(code int)  { C.ht_mpi_kill(C.int(code)) }
