package kernels

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// This file holds the pure-Go primitives. They are the implementation of the
// purego backend and the reference the native (C) primitives are tested
// against; each mirrors the C function of the same name in ht_kernels.h.

var gonumBLAS gonum.Implementation

func refGemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	gonumBLAS.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// keep mirrors ht_keep: the counter-based dropout decision for element i.
func keep(seed uint32, i uint64, threshold uint32) bool {
	x := uint32(i)*0x9E3779B9 + seed
	x ^= uint32(i>>32) * 0x85EBCA6B
	x ^= x >> 16
	x *= 0x7FEB352D
	x ^= x >> 15
	x *= 0x846CA68B
	x ^= x >> 16
	return x >= threshold
}

func refExp(x float32) float32 { return float32(math.Exp(float64(x))) }

func refGeluFwd(x, y []float32, approx bool) {
	for i, v := range x {
		y[i] = float32(gelu(float64(v), approx))
	}
}

func gelu(v float64, approx bool) float64 {
	if approx {
		return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v)))
	}
	return 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
}

func refGeluBwd(x, dy, dx []float32, approx bool) {
	for i, f := range x {
		v := float64(f)
		var d float64
		if approx {
			u := math.Sqrt(2/math.Pi) * (v + 0.044715*v*v*v)
			t := math.Tanh(u)
			du := math.Sqrt(2/math.Pi) * (1 + 3*0.044715*v*v)
			d = 0.5*(1+t) + 0.5*v*(1-t*t)*du
		} else {
			d = 0.5*(1+math.Erf(v/math.Sqrt2)) + v*math.Exp(-0.5*v*v)/math.Sqrt(2*math.Pi)
		}
		dx[i] = dy[i] * float32(d)
	}
}

func refTanhFwd(x, y []float32) {
	for i, v := range x {
		y[i] = float32(math.Tanh(float64(v)))
	}
}

func refDropout(x, y []float32, seed uint32, off uint64, threshold uint32, scale float32) {
	for i, v := range x {
		if keep(seed, off+uint64(i), threshold) {
			y[i] = v * scale
		} else {
			y[i] = 0
		}
	}
}

func refReslnFwd(r0, r1, cols int, x, res, gamma, beta []float32, eps float32, seed, threshold uint32, scale float32, out, xhat, rstd []float32) {
	for r := r0; r < r1; r++ {
		z := xhat[r*cols : (r+1)*cols]
		xr := x[r*cols : (r+1)*cols]
		for c := range z {
			if threshold == 0 || keep(seed, uint64(r*cols+c), threshold) {
				z[c] = xr[c]
				if threshold != 0 {
					z[c] *= scale
				}
			} else {
				z[c] = 0
			}
		}
		if res != nil {
			for c, v := range res[r*cols : (r+1)*cols] {
				z[c] += v
			}
		}
		var sum float64
		for _, v := range z {
			sum += float64(v)
		}
		mean := sum / float64(cols)
		var variance float64
		for _, v := range z {
			d := float64(v) - mean
			variance += d * d
		}
		variance /= float64(cols)
		rs := 1 / math.Sqrt(variance+float64(eps))
		rstd[r] = float32(rs)
		o := out[r*cols : (r+1)*cols]
		for c, v := range z {
			h := float32((float64(v) - mean) * rs)
			z[c] = h
			o[c] = h*gamma[c] + beta[c]
		}
	}
}

func refLnBwd(r0, r1, cols int, dy, xhat, rstd, gamma, dz, dgamma, dbeta []float32) {
	for r := r0; r < r1; r++ {
		dyr, hr, dzr := dy[r*cols:(r+1)*cols], xhat[r*cols:(r+1)*cols], dz[r*cols:(r+1)*cols]
		var sg, sgh float64
		for c := range dyr {
			g := float64(dyr[c] * gamma[c])
			sg += g
			sgh += g * float64(hr[c])
			dgamma[c] += dyr[c] * hr[c]
			dbeta[c] += dyr[c]
		}
		mg, mgh, rs := sg/float64(cols), sgh/float64(cols), float64(rstd[r])
		for c := range dzr {
			dzr[c] = float32(rs * (float64(dyr[c]*gamma[c]) - mg - float64(hr[c])*mgh))
		}
	}
}

func refColsumAcc(r0, r1, cols int, x, out []float32) {
	for r := r0; r < r1; r++ {
		for c, v := range x[r*cols : (r+1)*cols] {
			out[c] += v
		}
	}
}

func refSoftmaxRow(row []float32) {
	m := row[0]
	for _, v := range row[1:] {
		m = max(m, v)
	}
	var s float64
	for j, v := range row {
		e := refExp(v - m)
		row[j] = e
		s += float64(e)
	}
	inv := float32(1 / s)
	for j := range row {
		row[j] *= inv
	}
}

func refXentFwd(r0, r1, cols int, logits []float32, labels []int64, ignore int64, lse, loss []float32) {
	for r := r0; r < r1; r++ {
		x := logits[r*cols : (r+1)*cols]
		m := x[0]
		for _, v := range x[1:] {
			m = max(m, v)
		}
		var s float64
		for _, v := range x {
			s += math.Exp(float64(v - m))
		}
		l := m + float32(math.Log(s))
		lse[r] = l
		if labels[r] == ignore {
			loss[r] = 0
		} else {
			loss[r] = l - x[labels[r]]
		}
	}
}

func refXentBwd(r0, r1, cols int, logits []float32, labels []int64, ignore int64, lse []float32, scale float32, dx []float32) {
	for r := r0; r < r1; r++ {
		x, d := logits[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
		if labels[r] == ignore {
			clear(d)
			continue
		}
		for j, v := range x {
			d[j] = scale * refExp(v-lse[r])
		}
		d[labels[r]] -= scale
	}
}

func refAttnFwd(bh0, bh1, S, heads, hd, ld int, q, k, v, mask, bias []float32, scale float32, probs, ctx []float32, seed, threshold uint32, dscale float32, work []float32) {
	for bh := bh0; bh < bh1; bh++ {
		b, h := bh/heads, bh%heads
		base := b*S*ld + h*hd
		P := probs[bh*S*S : (bh+1)*S*S]
		refGemm(false, true, S, S, hd, scale, q[base:], ld, k[base:], ld, 0, P, S)
		mb := mask[b*S : (b+1)*S]
		for i := 0; i < S; i++ {
			row := P[i*S : (i+1)*S]
			for j := range row {
				row[j] += mb[j]
			}
			if bias != nil {
				br := bias[(b*S+i)*S*heads+h:]
				for j := range row {
					row[j] += br[j*heads]
				}
			}
			refSoftmaxRow(row)
		}
		A := P
		if threshold != 0 {
			A = work[:S*S]
			refDropout(P, A, seed, uint64(bh*S*S), threshold, dscale)
		}
		refGemm(false, false, S, hd, S, 1, A, S, v[base:], ld, 0, ctx[base:], ld)
	}
}

func refAttnBwd(bh0, bh1, S, heads, hd, ld int, q, k, v, probs, dctx []float32, scale float32, dq, dk, dv, dbias []float32, seed, threshold uint32, dscale float32, work []float32) {
	dP, Pd := work[:S*S], work[S*S:2*S*S]
	for bh := bh0; bh < bh1; bh++ {
		b, h := bh/heads, bh%heads
		base := b*S*ld + h*hd
		P := probs[bh*S*S : (bh+1)*S*S]
		A := P
		if threshold != 0 {
			refDropout(P, Pd, seed, uint64(bh*S*S), threshold, dscale)
			A = Pd
		}
		refGemm(true, false, S, hd, S, 1, A, S, dctx[base:], ld, 0, dv[base:], ld)
		refGemm(false, true, S, S, hd, 1, dctx[base:], ld, v[base:], ld, 0, dP, S)
		if threshold != 0 {
			refDropout(dP, dP, seed, uint64(bh*S*S), threshold, dscale)
		}
		for i := 0; i < S; i++ {
			pr, dr := P[i*S:(i+1)*S], dP[i*S:(i+1)*S]
			var dot float32
			for j := range pr {
				dot += pr[j] * dr[j]
			}
			for j := range pr {
				dr[j] = pr[j] * (dr[j] - dot)
			}
			if dbias != nil {
				gb := dbias[(b*S+i)*S*heads+h:]
				for j := range dr {
					gb[j*heads] = dr[j]
				}
			}
		}
		refGemm(false, false, S, hd, S, scale, dP, S, k[base:], ld, 0, dq[base:], ld)
		refGemm(true, false, S, hd, S, scale, dP, S, q[base:], ld, 0, dk[base:], ld)
	}
}

func refAdamW(p, g, m, v []float32, b1, c1, b2, c2, eps, decay, stepSize, bc2Sqrt float32) {
	for i, gi := range g {
		pi := p[i] * decay
		mi := m[i]*b1 + c1*gi
		vi := v[i]*b2 + c2*gi*gi
		m[i], v[i] = mi, vi
		p[i] = pi + -stepSize*mi/(float32(math.Sqrt(float64(vi)))/bc2Sqrt+eps)
	}
}

func refSumSq(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

func refScale(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}
