package kernels

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/mat"
)

// Activation names an element-wise nonlinearity by its HuggingFace
// hidden_act spelling.
type Activation string

// The activations BERT-family configs use.
const (
	GELU     Activation = "gelu"      // exact: x·Φ(x) with erf
	GELUTanh Activation = "gelu_tanh" // the tanh approximation (gelu_new, gelu_pytorch_tanh, gelu_fast)
	ReLU     Activation = "relu"
	// LeakyReLU has slope 0.1 below zero, as in Dozat & Manning's parser.
	LeakyReLU Activation = "leaky_relu"
	SiLU      Activation = "silu"
	Tanh      Activation = "tanh"
)

const leakySlope = 0.1

// ParseActivation maps a config's hidden_act to an Activation.
func ParseActivation(name string) (Activation, error) {
	switch name {
	case "gelu":
		return GELU, nil
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_tanh":
		return GELUTanh, nil
	case "relu":
		return ReLU, nil
	case "leaky_relu":
		return LeakyReLU, nil
	case "silu", "swish":
		return SiLU, nil
	case "tanh":
		return Tanh, nil
	}
	return "", fmt.Errorf("unsupported activation %q (want gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, leaky_relu, silu, swish or tanh)", name)
}

// Activate returns act applied to every element of x.
func Activate(x mat.Tensor, act Activation) mat.Tensor {
	if _, err := ParseActivation(string(act)); err != nil {
		panic("kernels.Activate: " + err.Error())
	}
	return run(&activationFn{x: x, act: act})
}

type activationFn struct {
	x   mat.Tensor
	act Activation
	y   []float32
}

func (f *activationFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

func (f *activationFn) Forward() (mat.Tensor, error) {
	x := Values(f.x)
	y := allocOut(len(x))
	parallel(len(x), 1<<14, func(lo, hi int) {
		xs, ys := x[lo:hi], y[lo:hi]
		switch f.act {
		case GELU, GELUTanh:
			geluFwd(xs, ys, f.act == GELUTanh)
		case Tanh:
			tanhFwd(xs, ys)
		case ReLU:
			for i, v := range xs {
				ys[i] = max(v, 0)
			}
		case LeakyReLU:
			for i, v := range xs {
				ys[i] = max(v, leakySlope*v)
			}
		case SiLU:
			for i, v := range xs {
				ys[i] = v / (1 + float32(math.Exp(float64(-v))))
			}
		}
	})
	f.y = y
	r, c := Dims(f.x)
	return NewMatrix(r, c, y), nil
}

func (f *activationFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	x, g := Values(f.x), Values(gy)
	dx := alloc(len(x))
	parallel(len(x), 1<<14, func(lo, hi int) {
		xs, gs, ds, ys := x[lo:hi], g[lo:hi], dx[lo:hi], f.y[lo:hi]
		switch f.act {
		case GELU, GELUTanh:
			geluBwd(xs, gs, ds, f.act == GELUTanh)
		case Tanh:
			for i, y := range ys {
				ds[i] = gs[i] * (1 - y*y)
			}
		case ReLU:
			for i, v := range xs {
				if v > 0 {
					ds[i] = gs[i]
				}
			}
		case LeakyReLU:
			for i, v := range xs {
				if v > 0 {
					ds[i] = gs[i]
				} else {
					ds[i] = leakySlope * gs[i]
				}
			}
		case SiLU:
			for i, v := range xs {
				s := 1 / (1 + float32(math.Exp(float64(-v))))
				ds[i] = gs[i] * s * (1 + v*(1-s))
			}
		}
	})
	accGrad(f.x, dx)
	return nil
}
