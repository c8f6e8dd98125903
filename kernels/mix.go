package kernels

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/mat"
)

// ScalarMix returns gamma · Σ_l softmax(w)_l · states[l]: ELMo's (and
// UDify's) learned mix of layers. states are equal-shaped [n, hidden]
// tensors, w holds one weight per state and gamma one value.
func ScalarMix(states []mat.Tensor, w, gamma mat.Tensor) mat.Tensor {
	checkMix("ScalarMix", states)
	if len(Values(w)) != len(states) || len(Values(gamma)) != 1 {
		panic(fmt.Sprintf("kernels.ScalarMix: %d weights and %d scales for %d states", len(Values(w)), len(Values(gamma)), len(states)))
	}
	return run(&scalarMixFn{states: states, w: w, gamma: gamma})
}

func checkMix(op string, states []mat.Tensor) {
	if len(states) == 0 {
		panic("kernels." + op + ": no states")
	}
	r, c := Dims(states[0])
	for _, s := range states[1:] {
		if sr, sc := Dims(s); sr != r || sc != c {
			panic(fmt.Sprintf("kernels.%s: states of %d×%d and %d×%d", op, r, c, sr, sc))
		}
	}
}

type scalarMixFn struct {
	states   []mat.Tensor
	w, gamma mat.Tensor
	s        []float64 // softmax(w)
}

func (f *scalarMixFn) Operands() []mat.Tensor {
	return append(append([]mat.Tensor{}, f.states...), f.w, f.gamma)
}

// Softmax64 returns the softmax of v computed in float64 (as ScalarMix
// weighs its layers).
func Softmax64(v []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, float64(x))
	}
	out := make([]float64, len(v))
	var z float64
	for i, x := range v {
		out[i] = math.Exp(float64(x) - m)
		z += out[i]
	}
	for i := range out {
		out[i] /= z
	}
	return out
}

func (f *scalarMixFn) Forward() (mat.Tensor, error) {
	f.s = Softmax64(Values(f.w))
	g := Values(f.gamma)[0]
	r, c := Dims(f.states[0])
	out := alloc(r * c)
	for l, st := range f.states {
		a := g * float32(f.s[l])
		x := Values(st)
		parallel(len(out), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				out[i] += a * x[i]
			}
		})
	}
	return NewMatrix(r, c, out), nil
}

func (f *scalarMixFn) Backward(gy mat.Tensor) error {
	g := Values(gy)
	gamma := float64(Values(f.gamma)[0])
	r, c := Dims(f.states[0])
	dots := make([]float64, len(f.states)) // Σ g ⊙ states[l]
	for l, st := range f.states {
		x := Values(st)
		var d float64
		for i, v := range g {
			d += float64(v) * float64(x[i])
		}
		dots[l] = d
		if st.RequiresGrad() {
			a := float32(gamma * f.s[l])
			dx := allocOut(r * c)
			for i, v := range g {
				dx[i] = a * v
			}
			accGrad(st, dx)
		}
	}
	var mixDot float64 // Σ_l s_l dots_l
	for l, d := range dots {
		mixDot += f.s[l] * d
	}
	dw := alloc(len(f.s))
	for l := range dw {
		dw[l] = float32(gamma * f.s[l] * (dots[l] - mixDot))
	}
	accGrad(f.w, dw)
	accGrad(f.gamma, []float32{float32(mixDot)})
	return nil
}

// LayerAttention mixes layers token by token: for token n,
//
//	α_{n,l} = softmax_l(states[l]_n · query / √hidden + bias_l),  out_n = Σ_l α_{n,l} states[l]_n
//
// an attention over the layer axis whose query (hidden values) belongs to
// the task and whose keys and values are the layers' vectors at that token;
// bias (one value per layer) is a learned prior over layers. It returns the
// mix and the attention weights [n, layers] (row-major).
func LayerAttention(states []mat.Tensor, query, bias mat.Tensor) (mat.Tensor, []float32) {
	checkMix("LayerAttention", states)
	_, h := Dims(states[0])
	if len(Values(query)) != h || len(Values(bias)) != len(states) {
		panic(fmt.Sprintf("kernels.LayerAttention: query of %d and bias of %d for %d states of width %d", len(Values(query)), len(Values(bias)), len(states), h))
	}
	f := &layerAttentionFn{states: states, q: query, b: bias}
	out := run(f)
	return out, f.alpha
}

type layerAttentionFn struct {
	states []mat.Tensor
	q, b   mat.Tensor
	alpha  []float32 // [n, L]
}

func (f *layerAttentionFn) Operands() []mat.Tensor {
	return append(append([]mat.Tensor{}, f.states...), f.q, f.b)
}

func (f *layerAttentionFn) Forward() (mat.Tensor, error) {
	n, h := Dims(f.states[0])
	L := len(f.states)
	q, b := Values(f.q), Values(f.b)
	scale := 1 / float32(math.Sqrt(float64(h)))
	xs := make([][]float32, L)
	for l, st := range f.states {
		xs[l] = Values(st)
	}
	f.alpha = allocOut(n * L)
	out := alloc(n * h)
	parallel(n, 64, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			a := f.alpha[t*L : (t+1)*L]
			for l := range xs {
				var s float32
				for c, v := range xs[l][t*h : (t+1)*h] {
					s += v * q[c]
				}
				a[l] = s*scale + b[l]
			}
			softmaxInPlace(a)
			o := out[t*h : (t+1)*h]
			for l := range xs {
				for c, v := range xs[l][t*h : (t+1)*h] {
					o[c] += a[l] * v
				}
			}
		}
	})
	return NewMatrix(n, h, out), nil
}

func softmaxInPlace(a []float32) {
	m := a[0]
	for _, v := range a[1:] {
		m = max(m, v)
	}
	var z float64
	for i, v := range a {
		e := math.Exp(float64(v - m))
		a[i] = float32(e)
		z += e
	}
	for i := range a {
		a[i] = float32(float64(a[i]) / z)
	}
}

func (f *layerAttentionFn) Backward(gy mat.Tensor) error {
	n, h := Dims(f.states[0])
	L := len(f.states)
	g, q := Values(gy), Values(f.q)
	scale := 1 / float32(math.Sqrt(float64(h)))
	xs := make([][]float32, L)
	dxs := make([][]float32, L)
	for l, st := range f.states {
		xs[l] = Values(st)
		dxs[l] = allocOut(n * h)
	}
	// Per token: dα_l = g·x_l; dscore_l = α_l (dα_l - Σ α dα);
	// dx_l = α_l g + dscore_l·scale·q; dq += Σ dscore_l·scale·x_l; db_l += dscore_l.
	chunks := Threads()
	dqs, dbs := make([][]float32, chunks), make([][]float32, chunks)
	used := parallelIndexed(n, 64, func(c, lo, hi int) {
		dq, db := make([]float32, h), make([]float32, L)
		ds := make([]float32, L)
		for t := lo; t < hi; t++ {
			a := f.alpha[t*L : (t+1)*L]
			gt := g[t*h : (t+1)*h]
			var mean float32
			for l := range xs {
				var d float32
				for c, v := range xs[l][t*h : (t+1)*h] {
					d += gt[c] * v
				}
				ds[l] = d
				mean += a[l] * d
			}
			for l := range xs {
				s := a[l] * (ds[l] - mean)
				db[l] += s
				x, dx := xs[l][t*h:(t+1)*h], dxs[l][t*h:(t+1)*h]
				for c := range dx {
					dx[c] = a[l]*gt[c] + s*scale*q[c]
					dq[c] += s * scale * x[c]
				}
			}
		}
		dqs[c], dbs[c] = dq, db
	})
	dq, db := alloc(h), alloc(L)
	for c := 0; c < used; c++ {
		for i, v := range dqs[c] {
			dq[i] += v
		}
		for i, v := range dbs[c] {
			db[i] += v
		}
	}
	for l, st := range f.states {
		accGrad(st, dxs[l])
	}
	accGrad(f.q, dq)
	accGrad(f.b, db)
	return nil
}

// Concat returns the states side by side: [n, Σ widths].
func Concat(states []mat.Tensor) mat.Tensor {
	n, _ := Dims(states[0])
	for _, s := range states[1:] {
		if r, _ := Dims(s); r != n {
			panic(fmt.Sprintf("kernels.Concat: %d rows and %d rows", n, r))
		}
	}
	return run(&concatFn{states: states})
}

type concatFn struct{ states []mat.Tensor }

func (f *concatFn) Operands() []mat.Tensor { return f.states }

func (f *concatFn) widths() (n, total int, ws []int) {
	for _, s := range f.states {
		r, c := Dims(s)
		n, total, ws = r, total+c, append(ws, c)
	}
	return n, total, ws
}

func (f *concatFn) Forward() (mat.Tensor, error) {
	n, total, ws := f.widths()
	out := allocOut(n * total)
	off := 0
	for k, s := range f.states {
		x := Values(s)
		w := ws[k]
		for r := 0; r < n; r++ {
			copy(out[r*total+off:r*total+off+w], x[r*w:(r+1)*w])
		}
		off += w
	}
	return NewMatrix(n, total, out), nil
}

func (f *concatFn) Backward(gy mat.Tensor) error {
	n, total, ws := f.widths()
	g := Values(gy)
	off := 0
	for k, s := range f.states {
		w := ws[k]
		if s.RequiresGrad() {
			d := allocOut(n * w)
			for r := 0; r < n; r++ {
				copy(d[r*w:(r+1)*w], g[r*total+off:r*total+off+w])
			}
			accGrad(s, d)
		}
		off += w
	}
	return nil
}

// Difference returns a - b for equal-shaped tensors (layer differences
// h_l - h_{l-1}: what a layer added to the residual stream).
func Difference(a, b mat.Tensor) mat.Tensor {
	return WeightedSum([]mat.Tensor{a, b}, []float32{1, -1})
}

// LinearMix returns Σ_l w_l · states[l] with learned weights w (one per
// state), unconstrained: DenseFormer's depth-weighted average.
func LinearMix(states []mat.Tensor, w mat.Tensor) mat.Tensor {
	checkMix("LinearMix", states)
	if len(Values(w)) != len(states) {
		panic(fmt.Sprintf("kernels.LinearMix: %d weights for %d states", len(Values(w)), len(states)))
	}
	return run(&linearMixFn{states: states, w: w})
}

type linearMixFn struct {
	states []mat.Tensor
	w      mat.Tensor
}

func (f *linearMixFn) Operands() []mat.Tensor {
	return append(append([]mat.Tensor{}, f.states...), f.w)
}

func (f *linearMixFn) Forward() (mat.Tensor, error) {
	r, c := Dims(f.states[0])
	out := alloc(r * c)
	for l, st := range f.states {
		a, x := Values(f.w)[l], Values(st)
		if a == 0 {
			continue
		}
		parallel(len(out), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				out[i] += a * x[i]
			}
		})
	}
	return NewMatrix(r, c, out), nil
}

func (f *linearMixFn) Backward(gy mat.Tensor) error {
	g := Values(gy)
	r, c := Dims(f.states[0])
	dw := alloc(len(f.states))
	for l, st := range f.states {
		x := Values(st)
		var d float64
		for i, v := range g {
			d += float64(v) * float64(x[i])
		}
		dw[l] = float32(d)
		if st.RequiresGrad() {
			a := Values(f.w)[l]
			dx := allocOut(r * c)
			for i, v := range g {
				dx[i] = a * v
			}
			accGrad(st, dx)
		}
	}
	accGrad(f.w, dw)
	return nil
}

// ScaleBy returns s · x for a learned scalar s (a one-value tensor).
func ScaleBy(x, s mat.Tensor) mat.Tensor {
	if len(Values(s)) != 1 {
		panic("kernels.ScaleBy: the scale must be one value")
	}
	return run(&scaleByFn{x: x, s: s})
}

type scaleByFn struct{ x, s mat.Tensor }

func (f *scaleByFn) Operands() []mat.Tensor { return []mat.Tensor{f.x, f.s} }

func (f *scaleByFn) Forward() (mat.Tensor, error) {
	r, c := Dims(f.x)
	s, x := Values(f.s)[0], Values(f.x)
	out := allocOut(r * c)
	for i, v := range x {
		out[i] = s * v
	}
	return NewMatrix(r, c, out), nil
}

func (f *scaleByFn) Backward(gy mat.Tensor) error {
	g, x, s := Values(gy), Values(f.x), Values(f.s)[0]
	var ds float64
	for i, v := range g {
		ds += float64(v) * float64(x[i])
	}
	accGrad(f.s, []float32{float32(ds)})
	if f.x.RequiresGrad() {
		dx := allocOut(len(g))
		for i, v := range g {
			dx[i] = s * v
		}
		accGrad(f.x, dx)
	}
	return nil
}
