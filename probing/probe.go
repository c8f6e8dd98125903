package probing

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads/decode"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/optim"
)

// Options are a probe's shape and training, the same for every probe of a
// comparison (task and control, every layer).
type Options struct {
	// Hidden is the width of an MLP probe's hidden layer (ReLU); 0 is a
	// linear probe.
	Hidden int
	// Epochs over the training examples, in minibatches of BatchSize words
	// (sentences for arc and sentence tasks), with AdamW at LR.
	Epochs    int
	BatchSize int
	LR        float64
	// WeightDecay is AdamW's decoupled weight decay.
	WeightDecay float64
	Seed        uint64
}

// DefaultOptions are a linear probe's training.
func DefaultOptions() Options {
	return Options{Epochs: 8, BatchSize: 256, LR: 2e-3, WeightDecay: 0.01}
}

// Check refuses options that cannot train.
func (o Options) Check() error {
	switch {
	case o.Hidden < 0:
		return fmt.Errorf("the MLP's width must not be negative, got %d", o.Hidden)
	case o.Epochs < 1:
		return fmt.Errorf("epochs must be at least 1, got %d", o.Epochs)
	case o.BatchSize < 1:
		return fmt.Errorf("the batch size must be at least 1, got %d", o.BatchSize)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return fmt.Errorf("the learning rate must be positive, got %g", o.LR)
	case !(o.WeightDecay >= 0) || math.IsInf(o.WeightDecay, 0):
		return fmt.Errorf("the weight decay must not be negative, got %g", o.WeightDecay)
	}
	return nil
}

// probe is one probe: an optional scalar mix of several states, then a
// linear map or an MLP to label scores, or for arcs a bilinear form
// between a word's and a candidate head's vectors (each through its own
// hidden layer in the MLP probe).
type probe struct {
	task       *Task
	states     []int
	mix, gamma *nn.Param // nil for a single state
	hidden     *encoder.Linear
	hiddenHead *encoder.Linear // arcs: the head side's hidden layer
	out        *encoder.Linear // label scores
	arc        *nn.Param       // arcs: U of [dep; 1]ᵀ U head
	params     []encoder.NamedParam
	mixParams  int // params[:mixParams] are the mix's
}

// mixLR is the learning rate of the mix weights relative to the probe's.
const mixLR = 20

func newParam(rows, cols int) *nn.Param {
	p := &nn.Param{Matrix: mat.NewDense[float32](mat.WithShape(rows, cols))}
	p.SetRequiresGrad(true)
	return p
}

func newProbe(t *Task, states []int, dim int, o Options) *probe {
	p := &probe{task: t, states: states}
	rng := rand.New(rand.NewPCG(o.Seed, uint64(len(states))))
	add := func(name string, ps ...*nn.Param) {
		for i, q := range ps {
			r, c := q.Shape()[0], q.Shape()[1]
			p.params = append(p.params, encoder.NamedParam{Name: fmt.Sprintf("%s.%d", name, i), Param: q, Shape: []int{r, c}})
		}
	}
	if len(states) > 1 {
		p.mix, p.gamma = newParam(len(states), 1), newParam(1, 1)
		kernels.Values(p.gamma)[0] = 1
		add("mix", p.mix, p.gamma)
		p.mixParams = 2
	}
	width := dim
	if o.Hidden > 0 {
		p.hidden = encoder.NewLinear(dim, o.Hidden)
		encoder.InitNormal(p.hidden.Weight, 1/math.Sqrt(float64(dim)), rng)
		add("hidden", p.hidden.Weight, p.hidden.Bias)
		if t.Kind == Arc {
			p.hiddenHead = encoder.NewLinear(dim, o.Hidden)
			encoder.InitNormal(p.hiddenHead.Weight, 1/math.Sqrt(float64(dim)), rng)
			add("hidden_head", p.hiddenHead.Weight, p.hiddenHead.Bias)
		}
		width = o.Hidden
	}
	if t.Kind == Arc {
		// Zero: every head equally likely at the start, as the linear
		// label probes start.
		p.arc = newParam(width+1, width)
		add("arc", p.arc)
	} else {
		p.out = encoder.NewLinear(width, len(t.Labels))
		add("out", p.out.Weight, p.out.Bias)
	}
	return p
}

// input mixes the states' rows (one tensor per state) into one.
func (p *probe) input(xs []mat.Tensor) mat.Tensor {
	if p.mix == nil {
		return xs[0]
	}
	return kernels.ScalarMix(xs, p.mix, p.gamma)
}

// scores returns label scores [rows, labels], or for arcs the scores
// [B·W, W] of B sentences laid out in W slots (slot 0 the root) of the
// given lengths (words + 1).
func (p *probe) scores(xs []mat.Tensor, B, W int, lengths []int) mat.Tensor {
	x := p.input(xs)
	if p.task.Kind == Arc {
		dep, head := x, x
		if p.hidden != nil {
			dep = kernels.Activate(p.hidden.Forward(x), kernels.ReLU)
			head = kernels.Activate(p.hiddenHead.Forward(x), kernels.ReLU)
		}
		return kernels.ArcScores(dep, head, p.arc, B, W, lengths)
	}
	if p.hidden != nil {
		x = kernels.Activate(p.hidden.Forward(x), kernels.ReLU)
	}
	return p.out.Forward(x)
}

// mixWeights returns the softmax of the mix weights, or nil.
func (p *probe) mixWeights() []float64 {
	if p.mix == nil {
		return nil
	}
	return kernels.Softmax64(kernels.Values(p.mix))
}

// split is one side (train or dev) of a probing task: the features and
// the targets.
type split struct {
	f       *Features
	targets []int
	// offsets[e] is the index in targets of example e's first target.
	offsets []int
}

func newSplit(f *Features, t *Task, targets []int) *split {
	s := &split{f: f, targets: targets, offsets: make([]int, len(f.Counts)+1)}
	for e, n := range f.Counts {
		if t.Kind == SentenceLabel {
			n = 1
		}
		s.offsets[e+1] = s.offsets[e] + n
	}
	return s
}

// batch is the probe's input for some examples (arcs, sentences) or words.
type batch struct {
	xs      []mat.Tensor
	targets []int
	B, W    int
	lengths []int
}

// wordBatch gathers rows of Words (word labels) or Sentences (sentence
// labels).
func (s *split) rowBatch(p *probe, rows []int) *batch {
	D := s.f.Dim
	b := &batch{}
	for _, n := range p.states {
		src := s.f.Words[n]
		if p.task.Kind == SentenceLabel {
			src = s.f.Sentences[n]
		}
		x := make([]float32, len(rows)*D)
		for i, r := range rows {
			copy(x[i*D:(i+1)*D], src[r*D:(r+1)*D])
		}
		b.xs = append(b.xs, kernels.NewMatrix(len(rows), D, x))
	}
	for _, r := range rows {
		b.targets = append(b.targets, s.targets[r])
	}
	return b
}

// arcBatch lays examples out in word slots: slot 0 the [CLS] state (the
// root), then the words, padded with the root.
func (s *split) arcBatch(p *probe, exs []int) *batch {
	D := s.f.Dim
	b := &batch{B: len(exs), W: 1}
	for _, e := range exs {
		b.W = max(b.W, s.f.Counts[e]+1)
	}
	for _, n := range p.states {
		x := make([]float32, b.B*b.W*D)
		for i, e := range exs {
			root := s.f.Roots[n][e*D : (e+1)*D]
			start, end := s.f.wordRows(e)
			for slot := range b.W {
				dst := x[(i*b.W+slot)*D : (i*b.W+slot+1)*D]
				if r := start + slot - 1; slot > 0 && r < end {
					copy(dst, s.f.Words[n][r*D:(r+1)*D])
				} else {
					copy(dst, root)
				}
			}
		}
		b.xs = append(b.xs, kernels.NewMatrix(b.B*b.W, D, x))
	}
	for _, e := range exs {
		n := s.f.Counts[e]
		b.lengths = append(b.lengths, n+1)
		b.targets = append(b.targets, unknown) // the root
		b.targets = append(b.targets, s.targets[s.offsets[e]:s.offsets[e]+n]...)
		for range b.W - n - 1 {
			b.targets = append(b.targets, unknown)
		}
	}
	return b
}

// units returns the number of units a minibatch draws from: examples for
// arcs, target rows otherwise.
func (s *split) units(t *Task) int {
	if t.Kind == Arc {
		return len(s.f.Counts)
	}
	return len(s.targets)
}

func (s *split) batch(p *probe, idx []int) *batch {
	if p.task.Kind == Arc {
		return s.arcBatch(p, idx)
	}
	return s.rowBatch(p, idx)
}

// fit trains a probe of task t on the given states of train and returns
// it.
func fit(t *Task, states []int, train *split, o Options) (*probe, error) {
	p := newProbe(t, states, train.f.Dim, o)
	opts := []*optim.AdamW{optim.NewAdamW(p.params[p.mixParams:], o.LR, o.WeightDecay)}
	if p.mixParams > 0 {
		// The mix's few weights learn faster, so that they settle within
		// the epochs the probe gets; weight decay would pull them to a
		// uniform mix.
		opts = append(opts, optim.NewAdamW(p.params[:p.mixParams], mixLR*o.LR, 0))
	}
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	n := train.units(t)
	size := o.BatchSize
	if t.Kind == Arc {
		size = max(1, o.BatchSize/16) // sentences of about 16 words
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	for range o.Epochs {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		for at := 0; at < n; at += size {
			b := train.batch(p, order[at:min(n, at+size)])
			if !slices.ContainsFunc(b.targets, func(v int) bool { return v != unknown }) {
				continue
			}
			loss, err := kernels.CrossEntropy(p.scores(b.xs, b.B, b.W, b.lengths), b.targets, unknown)
			if err != nil {
				return nil, err
			}
			if err := kernels.Backward(loss); err != nil {
				return nil, err
			}
			for _, opt := range opts {
				opt.Step()
				opt.ZeroGrad()
			}
			arena.Reset()
		}
	}
	return p, nil
}

// predict returns the probe's best target for every target of s.
func (p *probe) predict(s *split) []int {
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	for _, q := range p.params {
		q.Param.SetRequiresGrad(false)
	}
	defer func() {
		for _, q := range p.params {
			q.Param.SetRequiresGrad(true)
		}
	}()
	n := s.units(p.task)
	var out []int
	for at := 0; at < n; at += 256 {
		idx := make([]int, 0, 256)
		for i := at; i < min(n, at+256); i++ {
			idx = append(idx, i)
		}
		b := s.batch(p, idx)
		sc := p.scores(b.xs, b.B, b.W, b.lengths)
		rows, cols := kernels.Dims(sc)
		v := kernels.Values(sc)
		for r := range rows {
			if p.task.Kind == Arc && isPadding(b, r) {
				continue
			}
			out = append(out, decode.Argmax(v[r*cols:(r+1)*cols]))
		}
		arena.Reset()
	}
	return out
}

// isPadding reports whether row r of an arc batch is a root or padding
// slot, which has no target.
func isPadding(b *batch, r int) bool {
	slot := r % b.W
	return slot == 0 || slot >= b.lengths[r/b.W]
}
