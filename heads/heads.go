package heads

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

// Head is what every task head offers the trainer: its parameters under
// stable names (for the optimiser and checkpoints).
type Head interface {
	NamedParams() []encoder.NamedParam
}

// newLinear returns an in→out dense layer initialised as PyTorch's
// nn.Linear is: weights and biases uniform in ±1/√in.
func newLinear(in, out int, rng *rand.Rand) *encoder.Linear {
	l := encoder.NewLinear(in, out)
	bound := 1 / math.Sqrt(float64(in))
	for _, p := range []*nn.Param{l.Weight, l.Bias} {
		v := kernels.Values(p)
		for i := range v {
			v[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return l
}

// zeroParam returns a zero rows×cols parameter.
func zeroParam(rows, cols int) *nn.Param {
	p := &nn.Param{Matrix: mat.NewDense[float32](mat.WithShape(rows, cols))}
	p.SetRequiresGrad(true)
	return p
}

func linearParams(prefix string, l *encoder.Linear) []encoder.NamedParam {
	out, in := kernels.Dims(l.Weight)
	return []encoder.NamedParam{
		{Name: prefix + ".weight", Param: l.Weight, Shape: []int{out, in}},
		{Name: prefix + ".bias", Param: l.Bias, Shape: []int{out}},
	}
}

func matrixParam(name string, p *nn.Param) encoder.NamedParam {
	r, c := kernels.Dims(p)
	return encoder.NamedParam{Name: name, Param: p, Shape: []int{r, c}}
}

// WordPooler turns the wordpiece states of a word into one vector: the
// first, last, mean or sum of its pieces, or an attention-weighted average
// with learned scores.
type WordPooler struct {
	nn.Module
	Mode  string          // "first", "last", "mean", "sum" or "attention"
	Score *encoder.Linear // the attention scores (hidden → 1), for "attention"
}

// PoolModes are the word pooling modes.
var PoolModes = []string{"first", "last", "mean", "sum", "attention"}

// NewWordPooler returns a pooler; hidden is the width of the states.
func NewWordPooler(mode string, hidden int, rng *rand.Rand) (*WordPooler, error) {
	switch mode {
	case "first", "last", "mean", "sum":
		return &WordPooler{Mode: mode}, nil
	case "attention":
		return &WordPooler{Mode: mode, Score: newLinear(hidden, 1, rng)}, nil
	}
	return nil, fmt.Errorf("unknown word pooling %q (want one of %v)", mode, PoolModes)
}

// NamedParams returns the attention scorer's parameters, if any.
func (p *WordPooler) NamedParams() []encoder.NamedParam {
	if p.Score == nil {
		return nil
	}
	return linearParams("pool.score", p.Score)
}

// Forward returns one row per segment [starts[i], ends[i]) of states.
func (p *WordPooler) Forward(states mat.Tensor, starts, ends []int) mat.Tensor {
	if p.Mode == "attention" {
		return kernels.SegmentAttentionPool(states, p.Score.Forward(states), starts, ends)
	}
	return kernels.SegmentPool(states, starts, ends, kernels.PoolMode(p.Mode))
}

// Dropout draws the dropout of a head's input for one step.
type Dropout func() kernels.Dropout

// NoDropout is the Dropout of evaluation.
func NoDropout() kernels.Dropout { return kernels.Dropout{} }
