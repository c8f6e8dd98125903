package distill

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

// The losses below compare a student's tensor (an operator, which gets the
// gradient) with a teacher's values (constants: the teacher is frozen).
// Each returns a 1×1 operator and an error for mismatched sizes.

// MSE returns the mean squared difference between the student's rows s
// [n, cols] and the teacher's values t (n·cols, row-major) over the rows
// whose keep flag is set (nil keeps all): TinyBERT's embedding and
// hidden-state loss, with padding rows left out. Project s first when the
// widths differ. With no row kept the loss is 0.
func MSE(s mat.Tensor, t []float32, keep []bool) (mat.Tensor, error) {
	n, cols := kernels.Dims(s)
	if len(t) != n*cols {
		return nil, fmt.Errorf("mse: the student has %d×%d values, the teacher %d", n, cols, len(t))
	}
	if keep != nil && len(keep) != n {
		return nil, fmt.Errorf("mse: %d keep flags for %d rows", len(keep), n)
	}
	return kernels.Op(&mseFn{s: s, t: t, keep: keep, n: n, cols: cols}), nil
}

type mseFn struct {
	s       mat.Tensor
	t       []float32
	keep    []bool
	n, cols int
	count   int // values counted
}

func (f *mseFn) Operands() []mat.Tensor { return []mat.Tensor{f.s} }

func (f *mseFn) kept(row int) bool { return f.keep == nil || f.keep[row] }

func (f *mseFn) Forward() (mat.Tensor, error) {
	s := kernels.Values(f.s)
	var sum float64
	f.count = 0
	for r := 0; r < f.n; r++ {
		if !f.kept(r) {
			continue
		}
		f.count += f.cols
		for c := r * f.cols; c < (r+1)*f.cols; c++ {
			d := float64(s[c]) - float64(f.t[c])
			sum += d * d
		}
	}
	return kernels.NewMatrix(1, 1, []float32{float32(sum / float64(max(f.count, 1)))}), nil
}

// Backward: d/ds = 2(s − t)/count on kept rows.
func (f *mseFn) Backward(gy mat.Tensor) error {
	if !f.s.RequiresGrad() {
		return nil
	}
	s := kernels.Values(f.s)
	g := kernels.Alloc(len(s))
	scale := 2 * kernels.Values(gy)[0] / float32(max(f.count, 1))
	for r := 0; r < f.n; r++ {
		if !f.kept(r) {
			continue
		}
		for c := r * f.cols; c < (r+1)*f.cols; c++ {
			g[c] = scale * (s[c] - f.t[c])
		}
	}
	kernels.AccGrad(f.s, g)
	return nil
}

// AttentionMSE returns TinyBERT's attention loss: the mean squared
// difference between the student's attention scores s and the teacher's t,
// both laid out as kernels.AttentionScores returns them ([batch·heads·seq,
// seq]), over the pairs of a real query and a real key; positions whose
// mask value is 0 (padding) count neither as query nor as key. mask is the
// batch's [batch·seq] attention mask. Student and teacher need the same
// number of heads.
func AttentionMSE(s mat.Tensor, t []float32, mask []int64, batch, seq int) (mat.Tensor, error) {
	rows, cols := kernels.Dims(s)
	if cols != seq || batch <= 0 || rows%(batch*seq) != 0 {
		return nil, fmt.Errorf("attention mse: scores are %d×%d, not [batch·heads·seq, seq] for %d×%d tokens", rows, cols, batch, seq)
	}
	if len(t) != rows*cols {
		return nil, fmt.Errorf("attention mse: the student has %d scores, the teacher %d (student and teacher need the same number of heads)", rows*cols, len(t))
	}
	if len(mask) != batch*seq {
		return nil, fmt.Errorf("attention mse: %d mask values for %d×%d tokens", len(mask), batch, seq)
	}
	return kernels.Op(&attentionMSEFn{s: s, t: t, mask: mask, heads: rows / (batch * seq), seq: seq}), nil
}

type attentionMSEFn struct {
	s          mat.Tensor
	t          []float32
	mask       []int64
	heads, seq int
	count      int
}

func (f *attentionMSEFn) Operands() []mat.Tensor { return []mat.Tensor{f.s} }

// each calls fn for the index of every counted score.
func (f *attentionMSEFn) each(fn func(i int)) {
	S := f.seq
	rows := len(f.t) / S
	for row := 0; row < rows; row++ {
		b, q := row/(f.heads*S), row%S
		if f.mask[b*S+q] == 0 {
			continue
		}
		for k := 0; k < S; k++ {
			if f.mask[b*S+k] != 0 {
				fn(row*S + k)
			}
		}
	}
}

func (f *attentionMSEFn) Forward() (mat.Tensor, error) {
	s := kernels.Values(f.s)
	var sum float64
	f.count = 0
	f.each(func(i int) {
		d := float64(s[i]) - float64(f.t[i])
		sum += d * d
		f.count++
	})
	return kernels.NewMatrix(1, 1, []float32{float32(sum / float64(max(f.count, 1)))}), nil
}

func (f *attentionMSEFn) Backward(gy mat.Tensor) error {
	if !f.s.RequiresGrad() {
		return nil
	}
	s := kernels.Values(f.s)
	g := kernels.Alloc(len(s))
	scale := 2 * kernels.Values(gy)[0] / float32(max(f.count, 1))
	f.each(func(i int) { g[i] = scale * (s[i] - f.t[i]) })
	kernels.AccGrad(f.s, g)
	return nil
}

// SoftCrossEntropy returns the mean over the rows of the student's logits
// s [n, classes] of the cross-entropy −Σ softmax(t/T)·log softmax(s/T)
// against the teacher's logits t at temperature T: the prediction-layer
// loss of TinyBERT (and of Hinton et al., without their T² factor).
func SoftCrossEntropy(s mat.Tensor, t []float32, temperature float64) (mat.Tensor, error) {
	n, k := kernels.Dims(s)
	if len(t) != n*k {
		return nil, fmt.Errorf("soft cross-entropy: the student has %d×%d logits, the teacher %d", n, k, len(t))
	}
	if !(temperature > 0) {
		return nil, fmt.Errorf("soft cross-entropy: temperature %g is not positive", temperature)
	}
	return kernels.Op(&softXentFn{s: s, t: t, n: n, k: k, T: temperature}), nil
}

type softXentFn struct {
	s    mat.Tensor
	t    []float32
	n, k int
	T    float64
}

func (f *softXentFn) Operands() []mat.Tensor { return []mat.Tensor{f.s} }

// softmax returns softmax(v/T) and log softmax(v/T).
func softmax(v []float32, T float64) (p, logp []float64) {
	top := math.Inf(-1)
	for _, x := range v {
		top = math.Max(top, float64(x)/T)
	}
	var z float64
	for _, x := range v {
		z += math.Exp(float64(x)/T - top)
	}
	lz := math.Log(z) + top
	p, logp = make([]float64, len(v)), make([]float64, len(v))
	for i, x := range v {
		logp[i] = float64(x)/T - lz
		p[i] = math.Exp(logp[i])
	}
	return p, logp
}

func (f *softXentFn) Forward() (mat.Tensor, error) {
	s := kernels.Values(f.s)
	var sum float64
	for r := 0; r < f.n; r++ {
		pt, _ := softmax(f.t[r*f.k:(r+1)*f.k], f.T)
		_, ls := softmax(s[r*f.k:(r+1)*f.k], f.T)
		for c := range pt {
			sum -= pt[c] * ls[c]
		}
	}
	return kernels.NewMatrix(1, 1, []float32{float32(sum / float64(max(f.n, 1)))}), nil
}

// Backward: d/ds = (softmax(s/T) − softmax(t/T)) / (T·n).
func (f *softXentFn) Backward(gy mat.Tensor) error {
	if !f.s.RequiresGrad() {
		return nil
	}
	s := kernels.Values(f.s)
	g := kernels.Alloc(len(s))
	scale := float64(kernels.Values(gy)[0]) / (f.T * float64(max(f.n, 1)))
	for r := 0; r < f.n; r++ {
		pt, _ := softmax(f.t[r*f.k:(r+1)*f.k], f.T)
		ps, _ := softmax(s[r*f.k:(r+1)*f.k], f.T)
		for c := range pt {
			g[r*f.k+c] = float32(scale * (ps[c] - pt[c]))
		}
	}
	kernels.AccGrad(f.s, g)
	return nil
}

// SoftBinaryCrossEntropy is SoftCrossEntropy for independent binary
// labels (morphological features): the mean over all values of the
// cross-entropy of σ(s/T) against σ(t/T).
func SoftBinaryCrossEntropy(s mat.Tensor, t []float32, temperature float64) (mat.Tensor, error) {
	n, k := kernels.Dims(s)
	if len(t) != n*k {
		return nil, fmt.Errorf("soft binary cross-entropy: the student has %d×%d logits, the teacher %d", n, k, len(t))
	}
	if !(temperature > 0) {
		return nil, fmt.Errorf("soft binary cross-entropy: temperature %g is not positive", temperature)
	}
	return kernels.Op(&softBCEFn{s: s, t: t, T: temperature}), nil
}

type softBCEFn struct {
	s mat.Tensor
	t []float32
	T float64
}

func (f *softBCEFn) Operands() []mat.Tensor { return []mat.Tensor{f.s} }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// logSigmoid is log σ(x), stable for large |x|.
func logSigmoid(x float64) float64 {
	if x < 0 {
		return x - math.Log1p(math.Exp(x))
	}
	return -math.Log1p(math.Exp(-x))
}

func (f *softBCEFn) Forward() (mat.Tensor, error) {
	s := kernels.Values(f.s)
	var sum float64
	for i, x := range s {
		p, z := sigmoid(float64(f.t[i])/f.T), float64(x)/f.T
		sum -= p*logSigmoid(z) + (1-p)*logSigmoid(-z)
	}
	return kernels.NewMatrix(1, 1, []float32{float32(sum / float64(max(len(s), 1)))}), nil
}

// Backward: d/ds = (σ(s/T) − σ(t/T)) / (T·count).
func (f *softBCEFn) Backward(gy mat.Tensor) error {
	if !f.s.RequiresGrad() {
		return nil
	}
	s := kernels.Values(f.s)
	g := kernels.Alloc(len(s))
	scale := float64(kernels.Values(gy)[0]) / (f.T * float64(max(len(s), 1)))
	for i, x := range s {
		g[i] = float32(scale * (sigmoid(float64(x)/f.T) - sigmoid(float64(f.t[i])/f.T)))
	}
	kernels.AccGrad(f.s, g)
	return nil
}

// term is a weighted loss term.
type term struct {
	name   string
	loss   mat.Tensor
	weight float64
}

// intermediateWeights weigh TinyBERT's intermediate losses.
type intermediateWeights struct{ embeddings, hidden, attention float64 }

// intermediateLosses returns TinyBERT's intermediate losses of a student's
// forward pass res against a teacher's tres on the batch b, over the mapped
// layers: the mean squared error of the embedding output (student hidden
// state 0) and of the hidden states — through proj when the widths differ
// — and of the attention scores, each term with a positive weight. With
// words pooled in the student's encoder, its states over words are
// compared with the teacher's pooled the same way (by the mean), and their
// attention scores, over words instead of pieces, are left out.
func intermediateLosses(res, tres *encoder.Result, layers LayerMap, proj *encoder.Linear, b *encoder.Batch, words *encoder.WordPooling, w intermediateWeights) ([]term, error) {
	var out []term
	add := func(name string, l mat.Tensor, weight float64) {
		if weight > 0 {
			out = append(out, term{name, l, weight})
		}
	}
	keep := make([]bool, len(b.AttentionMask))
	for i, v := range b.AttentionMask {
		keep[i] = v != 0
	}
	var pool *encoder.WordPooling
	var unitKeep []bool
	if words != nil {
		p := *words
		if p.Mode == encoder.PoolAttention {
			p.Mode = kernels.PoolMean
		}
		pool = &p
		for _, v := range words.Mask() {
			unitKeep = append(unitKeep, v != 0)
		}
	}
	for i, s := range layers.Student {
		t := layers.Teacher[i]
		if s >= len(res.HiddenStates) || t >= len(tres.HiddenStates) {
			return nil, fmt.Errorf("layer map %d → %d: the forward passes have %d and %d hidden states", s, t, len(res.HiddenStates), len(tres.HiddenStates))
		}
		states, target, kept := res.HiddenStates[s], tres.HiddenStates[t], keep
		units := words.Pooled(s)
		if units {
			target, kept = pool.Pool(target), unitKeep
		}
		if proj != nil {
			states = proj.Forward(states)
		}
		l, err := MSE(states, kernels.Values(target), kept)
		if err != nil {
			return nil, fmt.Errorf("layer %d → %d: %w", s, t, err)
		}
		if s == 0 {
			add("embeddings", l, w.embeddings)
		} else {
			add("hidden", l, w.hidden)
		}
		if w.attention > 0 && s > 0 && !units {
			a, err := AttentionMSE(res.Scores[s-1], kernels.Values(tres.Scores[t-1]), b.AttentionMask, b.Size, b.Seq)
			if err != nil {
				return nil, fmt.Errorf("attention of layer %d → %d: %w", s, t, err)
			}
			add("attention", a, w.attention)
		}
	}
	return out, nil
}
