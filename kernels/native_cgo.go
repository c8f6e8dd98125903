//go:build cgo && !purego

package kernels

/*
#cgo CFLAGS: -O3 -std=gnu11 -Wall -Wno-unused-function
#cgo LDFLAGS: -ldl -lm
#include "ht_kernels.h"
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// blasLibraries are the names tried, in order, when HIERTUNE_BLAS is unset.
var blasLibraries = []string{"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"}

var (
	blasLoaded bool
	blasNote   string
)

func init() {
	libs := blasLibraries
	if p := os.Getenv("HIERTUNE_BLAS"); p != "" {
		libs = []string{p}
	}
	core := coreType()
	old, had := os.LookupEnv("OPENBLAS_CORETYPE")
	if core != "" {
		os.Setenv("OPENBLAS_CORETYPE", core)
		defer func() { // the choice is for this process's OpenBLAS only, not for child processes
			if had {
				os.Setenv("OPENBLAS_CORETYPE", old)
			} else {
				os.Unsetenv("OPENBLAS_CORETYPE")
			}
		}()
	}
	var errs []string
	var buf [512]C.char
	for _, lib := range libs {
		cs := C.CString(lib)
		rc := C.ht_blas_load(cs, &buf[0], C.int(len(buf)))
		C.free(unsafe.Pointer(cs))
		if rc == 0 {
			blasLoaded = true
			blasNote = fmt.Sprintf("OpenBLAS (%s, core %s)", lib, C.GoString(C.ht_blas_corename()))
			if core != "" && had && old != core {
				blasNote += fmt.Sprintf(" instead of OPENBLAS_CORETYPE=%s (set HIERTUNE_OPENBLAS_CORETYPE=%s to keep it)", old, old)
			}
			return
		}
		errs = append(errs, C.GoString(&buf[0]))
	}
	blasNote = "pure-Go GEMM: could not load OpenBLAS (" + strings.Join(errs, "; ") +
		"); install libopenblas0 (Debian: apt install libopenblas-dev) or set HIERTUNE_BLAS to its path"
}

// coreType returns the OpenBLAS core type to load OpenBLAS with, or "" to
// leave the choice to OpenBLAS and OPENBLAS_CORETYPE.
//
// HIERTUNE_OPENBLAS_CORETYPE, when set, decides ("auto" is the default).
// Otherwise, on CPUs with AVX-512 it is SkylakeX: OpenBLAS 0.3.21 (Debian 12)
// does not know AMD Zen 4/5 and runs its AVX2 (Haswell) kernels there, at
// half the speed, and machines that pin OPENBLAS_CORETYPE=Haswell for that
// reason get the same. The choice applies to hiertune's own process only.
func coreType() string {
	if v := os.Getenv("HIERTUNE_OPENBLAS_CORETYPE"); v != "" && v != "auto" {
		return v
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512CD {
		return "SkylakeX"
	}
	return ""
}

// Backend describes the primitives in use, e.g. which BLAS library and core.
func Backend() string { return "native C kernels, " + blasNote }

// NativeBLAS reports whether matrix products run on OpenBLAS.
func NativeBLAS() bool { return blasLoaded }

func fp(x []float32) *C.float {
	if len(x) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&x[0]))
}

func ip(x []int64) *C.int64_t {
	if len(x) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&x[0]))
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !blasLoaded {
		refGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	C.ht_sgemm(cbool(tA), cbool(tB), C.int(m), C.int(n), C.int(k), C.float(alpha), fp(a), C.int(lda), fp(b), C.int(ldb),
		C.float(beta), fp(c), C.int(ldc))
}

func geluFwd(x, y []float32, approx bool) {
	C.ht_gelu_fwd(C.long(len(x)), fp(x), fp(y), cbool(approx))
}

func geluBwd(x, dy, dx []float32, approx bool) {
	C.ht_gelu_bwd(C.long(len(x)), fp(x), fp(dy), fp(dx), cbool(approx))
}

func tanhFwd(x, y []float32) { C.ht_tanh_fwd(C.long(len(x)), fp(x), fp(y)) }

func dropout(x, y []float32, seed uint32, off uint64, threshold uint32, scale float32) {
	C.ht_dropout(C.long(len(x)), fp(x), fp(y), C.uint32_t(seed), C.uint64_t(off), C.uint32_t(threshold), C.float(scale))
}

func reslnFwd(r0, r1, cols int, x, res, gamma, beta []float32, eps float32, seed, threshold uint32, scale float32, out, xhat, rstd []float32) {
	C.ht_resln_fwd(C.long(r0), C.long(r1), C.long(cols), fp(x), fp(res), fp(gamma), fp(beta), C.float(eps),
		C.uint32_t(seed), C.uint32_t(threshold), C.float(scale), fp(out), fp(xhat), fp(rstd))
}

func lnBwd(r0, r1, cols int, dy, xhat, rstd, gamma, dz, dgamma, dbeta []float32) {
	C.ht_ln_bwd(C.long(r0), C.long(r1), C.long(cols), fp(dy), fp(xhat), fp(rstd), fp(gamma), fp(dz), fp(dgamma), fp(dbeta))
}

func colsumAcc(r0, r1, cols int, x, out []float32) {
	C.ht_colsum_acc(C.long(r0), C.long(r1), C.long(cols), fp(x), fp(out))
}

func xentFwd(r0, r1, cols int, logits []float32, labels []int64, ignore int64, lse, loss []float32) {
	C.ht_xent_fwd(C.long(r0), C.long(r1), C.long(cols), fp(logits), ip(labels), C.int64_t(ignore), fp(lse), fp(loss))
}

func xentBwd(r0, r1, cols int, logits []float32, labels []int64, ignore int64, lse []float32, scale float32, dx []float32) {
	C.ht_xent_bwd(C.long(r0), C.long(r1), C.long(cols), fp(logits), ip(labels), C.int64_t(ignore), fp(lse), C.float(scale), fp(dx))
}

func attnFwd(bh0, bh1, S, heads, hd, ld int, q, k, v, mask, bias []float32, scale float32, probs, ctx []float32, seed, threshold uint32, dscale float32, work []float32) {
	if !blasLoaded {
		refAttnFwd(bh0, bh1, S, heads, hd, ld, q, k, v, mask, bias, scale, probs, ctx, seed, threshold, dscale, work)
		return
	}
	C.ht_attn_fwd(C.long(bh0), C.long(bh1), C.long(S), C.long(heads), C.long(hd), C.long(ld), fp(q), fp(k), fp(v),
		fp(mask), fp(bias), C.float(scale), fp(probs), fp(ctx), C.uint32_t(seed), C.uint32_t(threshold), C.float(dscale), fp(work))
}

func attnBwd(bh0, bh1, S, heads, hd, ld int, q, k, v, probs, dctx []float32, scale float32, dq, dk, dv, dbias []float32, seed, threshold uint32, dscale float32, work []float32) {
	if !blasLoaded {
		refAttnBwd(bh0, bh1, S, heads, hd, ld, q, k, v, probs, dctx, scale, dq, dk, dv, dbias, seed, threshold, dscale, work)
		return
	}
	C.ht_attn_bwd(C.long(bh0), C.long(bh1), C.long(S), C.long(heads), C.long(hd), C.long(ld), fp(q), fp(k), fp(v),
		fp(probs), fp(dctx), C.float(scale), fp(dq), fp(dk), fp(dv), fp(dbias), C.uint32_t(seed), C.uint32_t(threshold),
		C.float(dscale), fp(work))
}

func adamW(p, g, m, v []float32, b1, c1, b2, c2, eps, decay, stepSize, bc2Sqrt float32) {
	C.ht_adamw(C.long(len(p)), fp(p), fp(g), fp(m), fp(v), C.float(b1), C.float(c1), C.float(b2), C.float(c2),
		C.float(eps), C.float(decay), C.float(stepSize), C.float(bc2Sqrt))
}

func sumSq(x []float32) float64 { return float64(C.ht_sumsq(C.long(len(x)), fp(x))) }

func scale(x []float32, a float32) { C.ht_scale(C.long(len(x)), fp(x), C.float(a)) }

// PeakGFLOPS measures the machine's single-precision FMA peak on Threads()
// threads and names the vector width used; it returns 0 on CPUs without
// AVX2+FMA or AVX-512. After a warm-up that lets the cores reach their
// boost clock, it times five windows of d/5 and keeps the fastest.
func PeakGFLOPS(d time.Duration) (float64, string) {
	const iters = 1 << 20
	var sink C.float
	lanes := C.ht_fma_loop(1<<10, &sink)
	if lanes == 0 {
		return 0, "no AVX2/FMA"
	}
	n := Threads()
	// burn runs the loop on n threads for at least the given time and
	// returns the rate achieved.
	burn := func(window time.Duration) float64 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var calls float64
		start := time.Now()
		for t := 0; t < n; t++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var s C.float
				c := 0
				for time.Since(start) < window {
					C.ht_fma_loop(iters, &s)
					c++
				}
				mu.Lock()
				calls += float64(c)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return 2 * 12 * float64(lanes) * iters * calls / time.Since(start).Seconds() / 1e9
	}
	burn(200 * time.Millisecond)
	best := 0.0
	for i := 0; i < 5; i++ {
		best = max(best, burn(d/5))
	}
	name := "AVX2"
	if lanes == 16 {
		name = "AVX-512"
	}
	return best, name
}
