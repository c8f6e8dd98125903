package kernels

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(X) is X or its transpose, op(A) is m×k, op(B) is k×n and C is m×n, with
// leading dimensions lda, ldb, ldc (the BLAS convention). Large products are
// split across Threads() goroutines along the longer side of C.
func Gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	const minWork = 1 << 18 // below this a single call is faster than splitting
	if Threads() == 1 || m*n*k < minWork {
		gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m >= n {
		parallel(m, 16, func(lo, hi int) {
			aOff := lo * lda
			if tA {
				aOff = lo
			}
			gemm(tA, tB, hi-lo, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
		return
	}
	parallel(n, 16, func(lo, hi int) {
		bOff := lo
		if tB {
			bOff = lo * ldb
		}
		gemm(tA, tB, m, hi-lo, k, alpha, a, lda, b[bOff:], ldb, beta, c[lo:], ldc)
	})
}
