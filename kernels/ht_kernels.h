// Native kernels of hiertune: the BLAS binding and the fused element-wise and
// attention kernels. This file is compiled once, through the cgo preamble of
// native_cgo.go. It is a header in the package directory, not a .c file, so
// that the go command tracks it (edits trigger a rebuild) and a purego build
// with cgo on ignores it. The pure-Go reference of every function here is in
// ref.go, and the tests compare the two.
//
// The element-wise loops are written to be auto-vectorised (no calls, no
// branches in the hot loops); on x86-64 GCC builds an AVX-512, an AVX2+FMA and
// a baseline clone of each and picks one at load time (target_clones).

#if defined(__GNUC__) && !defined(__clang__)
// sqrtf and logf need not set errno here; without this the compiler keeps a
// library call beside each sqrt instruction and cannot vectorise the loop.
// (The go command does not accept -fno-math-errno as a cgo flag.)
#pragma GCC optimize("no-math-errno")
#endif

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HT_CLONES
#endif

// ---------------------------------------------------------------- BLAS

// CBLAS enums (values fixed by the CBLAS standard).
enum { HT_ROW_MAJOR = 101, HT_NO_TRANS = 111, HT_TRANS = 112 };

typedef void (*ht_sgemm_fn)(int order, int transA, int transB, int m, int n, int k, float alpha,
                            const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*ht_set_threads_fn)(int);
typedef char *(*ht_corename_fn)(void);

static ht_sgemm_fn ht_cblas_sgemm;
static ht_corename_fn ht_corename;

// ht_blas_load opens the BLAS library at path with dlopen and binds
// cblas_sgemm. OpenBLAS reads OPENBLAS_CORETYPE when it is loaded, which is why
// it is opened here at run time instead of being linked: the caller may set
// that variable first. OpenBLAS's own threads are turned off (hiertune splits
// products across its own threads). Returns 0, or -1 with a message in err.
static int ht_blas_load(const char *path, char *err, int errlen) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "%s", dlerror());
		return -1;
	}
	ht_cblas_sgemm = (ht_sgemm_fn)dlsym(h, "cblas_sgemm");
	if (!ht_cblas_sgemm) {
		snprintf(err, errlen, "%s has no cblas_sgemm", path);
		return -1;
	}
	ht_set_threads_fn set = (ht_set_threads_fn)dlsym(h, "openblas_set_num_threads");
	if (set) set(1);
	ht_corename = (ht_corename_fn)dlsym(h, "openblas_get_corename");
	return 0;
}

static const char *ht_blas_corename(void) { return ht_corename ? ht_corename() : "unknown"; }

static void ht_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                     int ldb, float beta, float *c, int ldc) {
	ht_cblas_sgemm(HT_ROW_MAJOR, ta ? HT_TRANS : HT_NO_TRANS, tb ? HT_TRANS : HT_NO_TRANS, m, n, k, alpha, a, lda, b,
	               ldb, beta, c, ldc);
}

// ---------------------------------------------------------------- scalar math

// HT_MIN and HT_MAX compile to single min/max instructions; fminf and fmaxf,
// with their NaN rules, are library calls that stop vectorisation.
#define HT_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HT_MAX(a, b) ((a) > (b) ? (a) : (b))

static inline float ht_bits_to_float(uint32_t u) {
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline uint32_t ht_float_to_bits(float f) {
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

// ht_exp is exp(x) to about 1 ulp (Cephes expf): Cody-Waite reduction by ln 2
// and a degree-6 polynomial. It returns exactly 0 below -87.3, where expf
// underflows, so masked attention scores get exactly zero probability.
static inline float ht_exp(float x) {
	float xc = HT_MIN(HT_MAX(x, -87.3f), 88.3f);
	float t = xc * 1.44269504088896341f + 12582912.0f; // round to nearest via 1.5*2^23
	int32_t ni = (int32_t)(ht_float_to_bits(t) - 0x4B400000u);
	float n = t - 12582912.0f;
	float r = xc - n * 0.693359375f;
	r = r + n * 2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * (r * r) + r + 1.0f;
	float scale = ht_bits_to_float((uint32_t)(ni + 127) << 23);
	return x < -87.3f ? 0.0f : p * scale;
}

// ht_erf is erf(x) within 4e-7 absolute (the rational approximation used by
// Eigen and XLA, clamped to [-4, 4]).
static inline float ht_erf(float a) {
	float x = HT_MIN(HT_MAX(a, -4.0f), 4.0f);
	float x2 = x * x;
	float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
	p = p * x2 + -2.10102402082508e-06f;
	p = p * x2 + -5.69250639462346e-05f;
	p = p * x2 + -7.34990630326855e-04f;
	p = p * x2 + -2.95459980854025e-03f;
	p = p * x2 + -1.60960333262415e-02f;
	p = p * x;
	float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
	q = q * x2 + -1.68282697438203e-03f;
	q = q * x2 + -7.37332916720468e-03f;
	q = q * x2 + -1.42647390514189e-02f;
	return p / q;
}

// ht_tanh is tanh(x) from ht_exp; near zero it uses the odd series, where the
// exp form would lose digits to cancellation.
static inline float ht_tanh(float x) {
	float ax = fabsf(x);
	float e = ht_exp(-2.0f * ax);
	float t = (1.0f - e) / (1.0f + e);
	float x2 = x * x;
	float s = x * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
	float r = ax < 0.05f ? fabsf(s) : t;
	return copysignf(r, x);
}

// ht_keep decides dropout for element i of the op with the given seed: a
// counter-based hash, so any thread can decide any element, and the backward
// pass recomputes the mask instead of storing it. Mirrors keep() in ref.go.
static inline int ht_keep(uint32_t seed, uint64_t i, uint32_t threshold) {
	uint32_t x = (uint32_t)i * 0x9E3779B9u + seed;
	x ^= (uint32_t)(i >> 32) * 0x85EBCA6Bu;
	x ^= x >> 16;
	x *= 0x7FEB352Du;
	x ^= x >> 15;
	x *= 0x846CA68Bu;
	x ^= x >> 16;
	return x >= threshold;
}

// ---------------------------------------------------------------- element-wise

// ht_gelu_fwd: y = gelu(x); exact (erf) form unless approx is set (tanh form).
HT_CLONES static void ht_gelu_fwd(long n, const float *x, float *y, int approx) {
	if (approx) {
		for (long i = 0; i < n; i++) {
			float v = x[i];
			y[i] = 0.5f * v * (1.0f + ht_tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
		}
	} else {
		for (long i = 0; i < n; i++) {
			float v = x[i];
			y[i] = 0.5f * v * (1.0f + ht_erf(v * 0.7071067811865476f));
		}
	}
}

// ht_gelu_bwd: dx = dy * gelu'(x).
HT_CLONES static void ht_gelu_bwd(long n, const float *x, const float *dy, float *dx, int approx) {
	if (approx) {
		for (long i = 0; i < n; i++) {
			float v = x[i];
			float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
			float t = ht_tanh(u);
			float du = 0.7978845608028654f * (1.0f + 3.0f * 0.044715f * v * v);
			dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
		}
	} else {
		for (long i = 0; i < n; i++) {
			float v = x[i];
			float cdf = 0.5f * (1.0f + ht_erf(v * 0.7071067811865476f));
			float pdf = 0.3989422804014327f * ht_exp(-0.5f * v * v);
			dx[i] = dy[i] * (cdf + v * pdf);
		}
	}
}

// ht_tanh_fwd: y = tanh(x).
HT_CLONES static void ht_tanh_fwd(long n, const float *x, float *y) {
	for (long i = 0; i < n; i++) y[i] = ht_tanh(x[i]);
}

// ht_dropout: y[i] = keep(off+i) ? x[i]*scale : 0, for the element range
// [off, off+n) of an op's tensor. Used for the forward pass and, on the
// gradient, for the backward pass.
HT_CLONES static void ht_dropout(long n, const float *x, float *y, uint32_t seed, uint64_t off, uint32_t threshold,
                                 float scale) {
	for (long i = 0; i < n; i++) y[i] = ht_keep(seed, off + (uint64_t)i, threshold) ? x[i] * scale : 0.0f;
}

// ht_resln_fwd computes, for rows [r0, r1) of a [rows, cols] matrix,
//   z = dropout(x) + res   (res may be NULL, dropout off when threshold == 0)
//   out = (z - mean) * rstd * gamma + beta
// and stores xhat = (z - mean) * rstd and rstd for the backward pass.
HT_CLONES static void ht_resln_fwd(long r0, long r1, long cols, const float *x, const float *res, const float *gamma,
                                   const float *beta, float eps, uint32_t seed, uint32_t threshold, float scale,
                                   float *out, float *xhat, float *rstd) {
	for (long r = r0; r < r1; r++) {
		const float *xr = x + r * cols;
		float *zr = xhat + r * cols; // z is built in xhat, then normalised in place
		if (threshold) {
			for (long c = 0; c < cols; c++)
				zr[c] = ht_keep(seed, (uint64_t)(r * cols + c), threshold) ? xr[c] * scale : 0.0f;
		} else {
			for (long c = 0; c < cols; c++) zr[c] = xr[c];
		}
		if (res) {
			const float *rr = res + r * cols;
			for (long c = 0; c < cols; c++) zr[c] += rr[c];
		}
		float sum = 0.0f;
		for (long c = 0; c < cols; c++) sum += zr[c];
		float mean = sum / (float)cols;
		float var = 0.0f;
		for (long c = 0; c < cols; c++) {
			float d = zr[c] - mean;
			var += d * d;
		}
		var /= (float)cols;
		float rs = 1.0f / sqrtf(var + eps);
		rstd[r] = rs;
		float *orow = out + r * cols;
		for (long c = 0; c < cols; c++) {
			float h = (zr[c] - mean) * rs;
			zr[c] = h;
			orow[c] = h * gamma[c] + beta[c];
		}
	}
}

// ht_ln_bwd computes, for rows [r0, r1), dz = rstd*(g - mean(g) - xhat*mean(g*xhat))
// with g = dy*gamma, and adds the rows' contributions to dgamma and dbeta.
HT_CLONES static void ht_ln_bwd(long r0, long r1, long cols, const float *dy, const float *xhat, const float *rstd,
                                const float *gamma, float *dz, float *dgamma, float *dbeta) {
	for (long r = r0; r < r1; r++) {
		const float *dyr = dy + r * cols, *hr = xhat + r * cols;
		float *dzr = dz + r * cols;
		float sg = 0.0f, sgh = 0.0f;
		for (long c = 0; c < cols; c++) {
			float g = dyr[c] * gamma[c];
			sg += g;
			sgh += g * hr[c];
			dgamma[c] += dyr[c] * hr[c];
			dbeta[c] += dyr[c];
		}
		float mg = sg / (float)cols, mgh = sgh / (float)cols, rs = rstd[r];
		for (long c = 0; c < cols; c++) dzr[c] = rs * (dyr[c] * gamma[c] - mg - hr[c] * mgh);
	}
}

// ht_fill_rows sets each of the rows of out to v (a bias before a product
// accumulates onto it).
HT_CLONES static void ht_fill_rows(long rows, long cols, float *out, const float *v) {
	for (long r = 0; r < rows; r++) memcpy(out + r * cols, v, (size_t)cols * sizeof(float));
}

// ht_colsum_acc adds the column sums of rows [r0, r1) of x to out.
HT_CLONES static void ht_colsum_acc(long r0, long r1, long cols, const float *x, float *out) {
	for (long r = r0; r < r1; r++) {
		const float *xr = x + r * cols;
		for (long c = 0; c < cols; c++) out[c] += xr[c];
	}
}

// ht_softmax_row turns row into softmax(row) in place.
HT_CLONES static void ht_softmax_row(long n, float *row) {
	float m = row[0];
	for (long j = 1; j < n; j++) m = HT_MAX(m, row[j]);
	float s = 0.0f;
	for (long j = 0; j < n; j++) {
		float e = ht_exp(row[j] - m);
		row[j] = e;
		s += e;
	}
	float inv = 1.0f / s;
	for (long j = 0; j < n; j++) row[j] *= inv;
}

// ht_xent_fwd computes, for rows [r0, r1) of logits [rows, cols], the log-sum-exp
// of each row and the loss term lse - logit[label] (0 for ignored rows).
HT_CLONES static void ht_xent_fwd(long r0, long r1, long cols, const float *logits, const int64_t *labels,
                                  int64_t ignore, float *lse, float *loss) {
	for (long r = r0; r < r1; r++) {
		const float *x = logits + r * cols;
		float m = x[0];
		for (long j = 1; j < cols; j++) m = HT_MAX(m, x[j]);
		float s = 0.0f;
		for (long j = 0; j < cols; j++) s += ht_exp(x[j] - m);
		float l = m + logf(s);
		lse[r] = l;
		loss[r] = labels[r] == ignore ? 0.0f : l - x[labels[r]];
	}
}

// ht_xent_bwd writes dlogits = scale*(softmax - onehot(label)) for rows [r0, r1);
// ignored rows get zero.
HT_CLONES static void ht_xent_bwd(long r0, long r1, long cols, const float *logits, const int64_t *labels,
                                  int64_t ignore, const float *lse, float scale, float *dx) {
	for (long r = r0; r < r1; r++) {
		const float *x = logits + r * cols;
		float *d = dx + r * cols;
		if (labels[r] == ignore) {
			memset(d, 0, (size_t)cols * sizeof(float));
			continue;
		}
		float l = lse[r];
		for (long j = 0; j < cols; j++) d[j] = scale * ht_exp(x[j] - l);
		d[labels[r]] -= scale;
	}
}

// ---------------------------------------------------------------- attention

// Attention works on Q, K, V of shape [B*S, H] (H = heads*hd, row stride ld)
// without any reshaping: the block of sequence b and head h starts at
// b*S*ld + h*hd and is read with leading dimension ld. probs is [B, heads, S, S].

// ht_attn_fwd computes, for the (batch, head) pairs [bh0, bh1):
//   P = softmax(scale * Q K^T + mask + bias), ctx = dropout(P) V.
// mask is the additive key mask [B, S]; bias, when not NULL, an additive
// logit per head [B, S, S, heads] (pair states' bias); work is an S*S
// scratch buffer.
HT_CLONES static void ht_attn_fwd(long bh0, long bh1, long S, long heads, long hd, long ld, const float *q,
                                  const float *k, const float *v, const float *mask, const float *bias, float scale,
                                  float *probs, float *ctx, uint32_t seed, uint32_t threshold, float dscale,
                                  float *work) {
	for (long bh = bh0; bh < bh1; bh++) {
		long b = bh / heads, h = bh % heads;
		long base = b * S * ld + h * hd;
		float *P = probs + bh * S * S;
		ht_sgemm(0, 1, (int)S, (int)S, (int)hd, scale, q + base, (int)ld, k + base, (int)ld, 0.0f, P, (int)S);
		const float *mb = mask + b * S;
		for (long i = 0; i < S; i++) {
			float *row = P + i * S;
			for (long j = 0; j < S; j++) row[j] += mb[j];
			if (bias) {
				const float *br = bias + (b * S + i) * S * heads + h;
				for (long j = 0; j < S; j++) row[j] += br[j * heads];
			}
			ht_softmax_row(S, row);
		}
		const float *A = P;
		if (threshold) {
			ht_dropout(S * S, P, work, seed, (uint64_t)(bh * S * S), threshold, dscale);
			A = work;
		}
		ht_sgemm(0, 0, (int)S, (int)hd, (int)S, 1.0f, A, (int)S, v + base, (int)ld, 0.0f, ctx + base, (int)ld);
	}
}

// ht_attn_bwd computes dQ, dK, dV (and, when dbias is not NULL, the
// bias's gradient [B, S, S, heads]) for the pairs [bh0, bh1) from dctx,
// given the probabilities saved by the forward pass. work holds 2*S*S
// floats.
HT_CLONES static void ht_attn_bwd(long bh0, long bh1, long S, long heads, long hd, long ld, const float *q,
                                  const float *k, const float *v, const float *probs, const float *dctx, float scale,
                                  float *dq, float *dk, float *dv, float *dbias, uint32_t seed, uint32_t threshold,
                                  float dscale, float *work) {
	float *dP = work, *Pd = work + S * S;
	for (long bh = bh0; bh < bh1; bh++) {
		long b = bh / heads, h = bh % heads;
		long base = b * S * ld + h * hd;
		const float *P = probs + bh * S * S;
		const float *A = P;
		if (threshold) {
			ht_dropout(S * S, P, Pd, seed, (uint64_t)(bh * S * S), threshold, dscale);
			A = Pd;
		}
		// dV = dropout(P)^T dctx; d(dropout(P)) = dctx V^T
		ht_sgemm(1, 0, (int)S, (int)hd, (int)S, 1.0f, A, (int)S, dctx + base, (int)ld, 0.0f, dv + base, (int)ld);
		ht_sgemm(0, 1, (int)S, (int)S, (int)hd, 1.0f, dctx + base, (int)ld, v + base, (int)ld, 0.0f, dP, (int)S);
		if (threshold) ht_dropout(S * S, dP, dP, seed, (uint64_t)(bh * S * S), threshold, dscale);
		// softmax backward: dS = P * (dP - rowsum(dP * P))
		for (long i = 0; i < S; i++) {
			const float *pr = P + i * S;
			float *dr = dP + i * S;
			float dot = 0.0f;
			for (long j = 0; j < S; j++) dot += pr[j] * dr[j];
			for (long j = 0; j < S; j++) dr[j] = pr[j] * (dr[j] - dot);
			if (dbias) {
				float *gb = dbias + (b * S + i) * S * heads + h;
				for (long j = 0; j < S; j++) gb[j * heads] = dr[j];
			}
		}
		// scores = scale * Q K^T: dQ = scale dS K, dK = scale dS^T Q
		ht_sgemm(0, 0, (int)S, (int)hd, (int)S, scale, dP, (int)S, k + base, (int)ld, 0.0f, dq + base, (int)ld);
		ht_sgemm(1, 0, (int)S, (int)hd, (int)S, scale, dP, (int)S, q + base, (int)ld, 0.0f, dk + base, (int)ld);
	}
}

// ---------------------------------------------------------------- optimiser

// ht_adamw applies one AdamW step to n parameters, in the order of
// operations of torch.optim.AdamW (single-tensor path):
//   p *= decay;  m = m*b1 + c1*g;  v = v*b2 + c2*g*g;
//   p += -step_size * m / (sqrt(v)/bc2_sqrt + eps)
// with c1 = 1-b1, c2 = 1-b2, decay = 1 - lr*weight_decay and step_size =
// lr/(1 - b1^t), all computed in double by the caller as PyTorch does (1-b2
// rounded from double is not 1 minus b2 rounded).
HT_CLONES static void ht_adamw(long n, float *p, const float *g, float *m, float *v, float b1, float c1, float b2,
                               float c2, float eps, float decay, float step_size, float bc2_sqrt) {
	for (long i = 0; i < n; i++) {
		float gi = g[i];
		float pi = p[i] * decay;
		float mi = m[i] * b1 + c1 * gi;
		float vi = v[i] * b2 + c2 * gi * gi;
		m[i] = mi;
		v[i] = vi;
		p[i] = pi + -step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
	}
}

// ht_sumsq returns the sum of squares of x, accumulated in double.
HT_CLONES static double ht_sumsq(long n, const float *x) {
	double s = 0.0;
	for (long i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
	return s;
}

// ht_scale multiplies x by a in place.
HT_CLONES static void ht_scale(long n, float *x, float a) {
	for (long i = 0; i < n; i++) x[i] *= a;
}

// ---------------------------------------------------------------- peak

// ht_fma_loop runs iters rounds of 12 independent FMA chains on 16-float
// (AVX-512) or 8-float (AVX2) vectors and returns a value that depends on all
// of them, so the loop cannot be removed. It measures the core's FMA peak:
// 2 * 12 * lanes * iters floating-point operations.
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f"), optimize("unroll-loops"))) static float ht_fma_loop512(long iters) {
	__m512 x0 = _mm512_set1_ps(0.0f), x1 = _mm512_set1_ps(1.0f), x2 = _mm512_set1_ps(2.0f), x3 = _mm512_set1_ps(3.0f);
	__m512 x4 = _mm512_set1_ps(4.0f), x5 = _mm512_set1_ps(5.0f), x6 = _mm512_set1_ps(6.0f), x7 = _mm512_set1_ps(7.0f);
	__m512 x8 = _mm512_set1_ps(8.0f), x9 = _mm512_set1_ps(9.0f), xa = _mm512_set1_ps(10.0f), xb = _mm512_set1_ps(11.0f);
	const __m512 m = _mm512_set1_ps(0.99999f), c = _mm512_set1_ps(1e-6f);
	for (long i = 0; i < iters; i++) {
		x0 = _mm512_fmadd_ps(x0, m, c); x1 = _mm512_fmadd_ps(x1, m, c); x2 = _mm512_fmadd_ps(x2, m, c);
		x3 = _mm512_fmadd_ps(x3, m, c); x4 = _mm512_fmadd_ps(x4, m, c); x5 = _mm512_fmadd_ps(x5, m, c);
		x6 = _mm512_fmadd_ps(x6, m, c); x7 = _mm512_fmadd_ps(x7, m, c); x8 = _mm512_fmadd_ps(x8, m, c);
		x9 = _mm512_fmadd_ps(x9, m, c); xa = _mm512_fmadd_ps(xa, m, c); xb = _mm512_fmadd_ps(xb, m, c);
	}
	__m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x0, x1), _mm512_add_ps(x2, x3)),
	                         _mm512_add_ps(_mm512_add_ps(x4, x5), _mm512_add_ps(x6, x7)));
	s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(x8, x9), _mm512_add_ps(xa, xb)));
	return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"), optimize("unroll-loops"))) static float ht_fma_loop256(long iters) {
	__m256 x0 = _mm256_set1_ps(0.0f), x1 = _mm256_set1_ps(1.0f), x2 = _mm256_set1_ps(2.0f), x3 = _mm256_set1_ps(3.0f);
	__m256 x4 = _mm256_set1_ps(4.0f), x5 = _mm256_set1_ps(5.0f), x6 = _mm256_set1_ps(6.0f), x7 = _mm256_set1_ps(7.0f);
	__m256 x8 = _mm256_set1_ps(8.0f), x9 = _mm256_set1_ps(9.0f), xa = _mm256_set1_ps(10.0f), xb = _mm256_set1_ps(11.0f);
	const __m256 m = _mm256_set1_ps(0.99999f), c = _mm256_set1_ps(1e-6f);
	for (long i = 0; i < iters; i++) {
		x0 = _mm256_fmadd_ps(x0, m, c); x1 = _mm256_fmadd_ps(x1, m, c); x2 = _mm256_fmadd_ps(x2, m, c);
		x3 = _mm256_fmadd_ps(x3, m, c); x4 = _mm256_fmadd_ps(x4, m, c); x5 = _mm256_fmadd_ps(x5, m, c);
		x6 = _mm256_fmadd_ps(x6, m, c); x7 = _mm256_fmadd_ps(x7, m, c); x8 = _mm256_fmadd_ps(x8, m, c);
		x9 = _mm256_fmadd_ps(x9, m, c); xa = _mm256_fmadd_ps(xa, m, c); xb = _mm256_fmadd_ps(xb, m, c);
	}
	__m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3)),
	                         _mm256_add_ps(_mm256_add_ps(x4, x5), _mm256_add_ps(x6, x7)));
	s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(x8, x9), _mm256_add_ps(xa, xb)));
	float t[8];
	_mm256_storeu_ps(t, s);
	return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

// ht_fma_loop runs the widest loop the CPU has and returns its lane count
// (0 when it has neither AVX-512 nor AVX2 with FMA).
static int ht_fma_loop(long iters, float *sink) {
	if (__builtin_cpu_supports("avx512f")) {
		*sink = ht_fma_loop512(iters);
		return 16;
	}
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		*sink = ht_fma_loop256(iters);
		return 8;
	}
	return 0;
}
#else
static int ht_fma_loop(long iters, float *sink) { (void)iters; *sink = 0; return 0; }
#endif
