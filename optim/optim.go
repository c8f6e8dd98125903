// Package optim holds the optimiser and learning-rate schedule of
// hiertune's trainers: AdamW exactly as torch.optim.AdamW computes it, with
// HuggingFace's parameter groups, global gradient-norm clipping, and the
// linear warm-up/decay schedule.
//
// It replaces spago's optimizers, whose AdamW places epsilon and weight decay
// differently from PyTorch's and allocates per step (see docs/design.md).
package optim

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/tensor"
)

// NoDecay reports whether a parameter is exempt from weight decay under
// HuggingFace's rule: biases and LayerNorm weights.
func NoDecay(name string) bool {
	return strings.HasSuffix(name, ".bias") || strings.Contains(name, "LayerNorm.weight")
}

// AdamW is the AdamW optimiser over a fixed list of parameters.
type AdamW struct {
	// LR is the learning rate of the next step; a schedule sets it.
	LR           float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
	// Decay decides which parameters get weight decay; nil means all but
	// those NoDecay exempts.
	Decay func(name string) bool

	params []encoder.NamedParam
	state  []moments
}

// moments is one parameter's optimiser state; step counts its own updates,
// as PyTorch keeps a step per parameter.
type moments struct {
	m, v []float32
	step int
}

// NewAdamW returns AdamW over params with PyTorch's defaults for the betas
// and epsilon (0.9, 0.999, 1e-8).
func NewAdamW(params []encoder.NamedParam, lr, weightDecay float64) *AdamW {
	return &AdamW{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay,
		params: params, state: make([]moments, len(params))}
}

// Step updates every parameter that has a gradient; a parameter without one
// is left alone, weight decay included, as torch.optim.AdamW does.
func (o *AdamW) Step() {
	for i, np := range o.params {
		if !np.Param.HasGrad() { // Grad() is a typed nil then, not nil
			continue
		}
		g := np.Param.Grad()
		p := kernels.Values(np.Param)
		s := &o.state[i]
		if s.m == nil {
			s.m, s.v = make([]float32, len(p)), make([]float32, len(p))
		}
		s.step++
		wd := o.WeightDecay
		if (o.Decay != nil && !o.Decay(np.Name)) || (o.Decay == nil && NoDecay(np.Name)) {
			wd = 0
		}
		bc1 := 1 - math.Pow(o.Beta1, float64(s.step))
		bc2 := 1 - math.Pow(o.Beta2, float64(s.step))
		kernels.AdamWStep(p, kernels.Values(g), s.m, s.v, kernels.AdamWParams{
			Beta1: float32(o.Beta1), OneMinusBeta1: float32(1 - o.Beta1),
			Beta2: float32(o.Beta2), OneMinusBeta2: float32(1 - o.Beta2),
			Eps: float32(o.Eps), Decay: float32(1 - o.LR*wd), StepSize: float32(o.LR / bc1), Bc2Sqrt: float32(math.Sqrt(bc2)),
		})
	}
}

// ZeroGrad drops every parameter's gradient.
func (o *AdamW) ZeroGrad() {
	for _, np := range o.params {
		np.Param.ZeroGrad()
	}
}

// ClipGradNorm scales the gradients of params so that their global L2 norm
// is at most maxNorm, as torch.nn.utils.clip_grad_norm_ does (with its 1e-6
// guard), and returns the norm before clipping.
func ClipGradNorm(params []encoder.NamedParam, maxNorm float64) float64 {
	var sum float64
	for _, np := range params {
		if np.Param.HasGrad() {
			sum += kernels.SumSquares(kernels.Values(np.Param.Grad()))
		}
	}
	norm := math.Sqrt(sum)
	if coef := maxNorm / (norm + 1e-6); coef < 1 {
		for _, np := range params {
			if np.Param.HasGrad() {
				kernels.Scale(kernels.Values(np.Param.Grad()), float32(coef))
			}
		}
	}
	return norm
}

// LinearSchedule is HuggingFace's get_linear_schedule_with_warmup: the
// learning rate rises linearly from 0 to Peak over Warmup steps, then falls
// linearly to 0 at Total steps.
type LinearSchedule struct {
	Peak          float64
	Warmup, Total int
}

// At returns the learning rate of step (0-based, the step about to be
// taken).
func (s LinearSchedule) At(step int) float64 {
	if step < s.Warmup {
		return s.Peak * float64(step) / float64(max(1, s.Warmup))
	}
	return s.Peak * max(0, float64(s.Total-step)/float64(max(1, s.Total-s.Warmup)))
}

// State returns the optimiser's state as tensors: for each parameter that
// has taken a step, "exp_avg.NAME" and "exp_avg_sq.NAME" (the moments, in
// the parameter's shape) and "step.NAME" (its step count).
func (o *AdamW) State() map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for i, np := range o.params {
		s := o.state[i]
		if s.m == nil {
			continue
		}
		out["exp_avg."+np.Name] = tensor.FromFloat32(np.Shape, s.m)
		out["exp_avg_sq."+np.Name] = tensor.FromFloat32(np.Shape, s.v)
		out["step."+np.Name] = tensor.FromInt64(nil, []int64{int64(s.step)})
	}
	return out
}

// LoadState restores what State returned, checking names and shapes.
func (o *AdamW) LoadState(ts map[string]*tensor.Tensor) error {
	known := map[string]bool{}
	for i, np := range o.params {
		known[np.Name] = true
		m, hasM := ts["exp_avg."+np.Name]
		v, hasV := ts["exp_avg_sq."+np.Name]
		st, hasS := ts["step."+np.Name]
		if !hasM && !hasV && !hasS {
			o.state[i] = moments{}
			continue
		}
		if !hasM || !hasV || !hasS {
			return fmt.Errorf("optimizer state of %s is incomplete", np.Name)
		}
		for _, t := range []*tensor.Tensor{m, v} {
			if !slices.Equal(t.Shape, np.Shape) {
				return fmt.Errorf("optimizer state of %s has shape %v, the parameter %v", np.Name, t.Shape, np.Shape)
			}
		}
		mv, err := m.Float32()
		if err != nil {
			return fmt.Errorf("optimizer state of %s: %w", np.Name, err)
		}
		vv, err := v.Float32()
		if err != nil {
			return fmt.Errorf("optimizer state of %s: %w", np.Name, err)
		}
		steps, err := st.Int64()
		if err != nil || len(steps) != 1 {
			return fmt.Errorf("optimizer state of %s: bad step count", np.Name)
		}
		o.state[i] = moments{m: mv, v: vv, step: int(steps[0])}
	}
	for name := range ts {
		if _, p, ok := strings.Cut(name, "."); !ok || !known[p] {
			return fmt.Errorf("optimizer state has %q, which is no parameter of this model", name)
		}
	}
	return nil
}
