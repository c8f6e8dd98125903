//go:build !cgo || purego

package kernels

import "time"

// Backend describes the primitives in use.
func Backend() string { return "pure Go (gonum GEMM)" }

// NativeBLAS reports whether matrix products run on OpenBLAS.
func NativeBLAS() bool { return false }

func gemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	refGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func geluFwd(x, y []float32, approx bool)          { refGeluFwd(x, y, approx) }
func geluBwd(x, dy, dx []float32, approx bool)     { refGeluBwd(x, dy, dx, approx) }
func tanhFwd(x, y []float32)                       { refTanhFwd(x, y) }
func colsumAcc(r0, r1, cols int, x, out []float32) { refColsumAcc(r0, r1, cols, x, out) }

func dropout(x, y []float32, seed uint32, off uint64, threshold uint32, scale float32) {
	refDropout(x, y, seed, off, threshold, scale)
}

func reslnFwd(r0, r1, cols int, x, res, gamma, beta []float32, eps float32, seed, threshold uint32, scale float32, out, xhat, rstd []float32) {
	refReslnFwd(r0, r1, cols, x, res, gamma, beta, eps, seed, threshold, scale, out, xhat, rstd)
}

func lnBwd(r0, r1, cols int, dy, xhat, rstd, gamma, dz, dgamma, dbeta []float32) {
	refLnBwd(r0, r1, cols, dy, xhat, rstd, gamma, dz, dgamma, dbeta)
}

func xentFwd(r0, r1, cols int, logits []float32, labels []int64, ignore int64, lse, loss []float32) {
	refXentFwd(r0, r1, cols, logits, labels, ignore, lse, loss)
}

func xentBwd(r0, r1, cols int, logits []float32, labels []int64, ignore int64, lse []float32, scale float32, dx []float32) {
	refXentBwd(r0, r1, cols, logits, labels, ignore, lse, scale, dx)
}

func attnFwd(bh0, bh1, S, heads, hd, ld int, q, k, v, mask, bias []float32, scale float32, probs, ctx []float32, seed, threshold uint32, dscale float32, work []float32) {
	refAttnFwd(bh0, bh1, S, heads, hd, ld, q, k, v, mask, bias, scale, probs, ctx, seed, threshold, dscale, work)
}

func attnBwd(bh0, bh1, S, heads, hd, ld int, q, k, v, probs, dctx []float32, scale float32, dq, dk, dv, dbias []float32, seed, threshold uint32, dscale float32, work []float32) {
	refAttnBwd(bh0, bh1, S, heads, hd, ld, q, k, v, probs, dctx, scale, dq, dk, dv, dbias, seed, threshold, dscale, work)
}

func adamW(p, g, m, v []float32, b1, c1, b2, c2, eps, decay, stepSize, bc2Sqrt float32) {
	refAdamW(p, g, m, v, b1, c1, b2, c2, eps, decay, stepSize, bc2Sqrt)
}

func sumSq(x []float32) float64    { return refSumSq(x) }
func scale(x []float32, a float32) { refScale(x, a) }

// PeakGFLOPS is not measured by the pure-Go backend: it returns 0.
func PeakGFLOPS(d time.Duration) (float64, string) { return 0, "not measured (pure Go)" }
