package heads

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads/decode"
	"github.com/hiertune/hiertune/kernels"
)

// Feats predicts morphological features as a multi-label problem: one
// sigmoid per Feature=Value pair seen in training. A word gets, for each
// feature, its best value if that value's probability exceeds one half.
type Feats struct {
	nn.Module
	Out   *encoder.Linear
	Pairs []string // "Case=Nom", sorted
	// byFeature lists the pair indices of each feature.
	byFeature map[string][]int
	index     map[string]int
}

// NewFeats returns a features head over the given Feature=Value pairs.
func NewFeats(hidden int, pairs []string, rng *rand.Rand) *Feats {
	f := &Feats{Out: newLinear(hidden, len(pairs), rng), Pairs: pairs}
	f.byFeature, f.index = map[string][]int{}, map[string]int{}
	for i, p := range pairs {
		name, _, _ := strings.Cut(p, "=")
		f.byFeature[name] = append(f.byFeature[name], i)
		f.index[p] = i
	}
	return f
}

// NamedParams returns the head's parameters.
func (f *Feats) NamedParams() []encoder.NamedParam { return linearParams("out", f.Out) }

// SetPriors sets each pair's bias to the log-odds of its frequency (the
// share of training words that have it), so that training starts from the
// prior instead of predicting every pair half of the time.
func (f *Feats) SetPriors(freq []float64) {
	b := kernels.Values(f.Out.Bias)
	for i, p := range freq {
		p = min(max(p, 1e-4), 1-1e-4)
		b[i] = float32(math.Log(p / (1 - p)))
	}
}

// Targets returns the 0/1 target row of a FEATS value ("_" or
// "Case=Nom|Number=Sing"); pairs unknown to the head are left out.
func (f *Feats) Targets(feats string) []float32 {
	t := make([]float32, len(f.Pairs))
	if feats == "_" || feats == "" {
		return t
	}
	for _, p := range strings.Split(feats, "|") {
		if i, ok := f.index[p]; ok {
			t[i] = 1
		}
	}
	return t
}

// Loss returns the multi-label loss of logits against targets (one Targets
// row per word) over the words whose keep flag is set.
func (f *Feats) Loss(logits mat.Tensor, targets []float32, keep []bool) mat.Tensor {
	return kernels.SigmoidBCE(logits, targets, keep)
}

// Decode returns the FEATS value of each word from the head's logits, one
// row of len(Pairs) values per word (a trailing partial row is ignored):
// for each feature, its best value if its sigmoid exceeds one half;
// features in alphabetical order ("_" for none), as CoNLL-U writes them.
func (f *Feats) Decode(logits []float32) []string {
	K := len(f.Pairs)
	names := make([]string, 0, len(f.byFeature))
	for n := range f.byFeature {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]string, len(logits)/K)
	for w := range out {
		row := logits[w*K : (w+1)*K]
		var chosen []string
		for _, n := range names {
			best := -1
			for _, i := range f.byFeature[n] {
				if best < 0 || row[i] > row[best] {
					best = i
				}
			}
			if row[best] > 0 { // sigmoid > 0.5
				chosen = append(chosen, f.Pairs[best])
			}
		}
		out[w] = "_"
		if len(chosen) > 0 {
			out[w] = strings.Join(chosen, "|")
		}
	}
	return out
}

// Classifier labels whole sequences from one vector each (the [CLS] vector
// or the mean of the tokens): dropout and a linear layer, softmax
// cross-entropy.
type Classifier struct {
	nn.Module
	Out    *encoder.Linear
	Labels []string
}

// NewClassifier returns a classifier over labels.
func NewClassifier(hidden int, labels []string, rng *rand.Rand) *Classifier {
	return &Classifier{Out: newLinear(hidden, len(labels), rng), Labels: labels}
}

// NamedParams returns the classifier's parameters.
func (c *Classifier) NamedParams() []encoder.NamedParam { return linearParams("out", c.Out) }

// Logits returns the label scores [sequences, labels] of sequence vectors.
func (c *Classifier) Logits(vectors mat.Tensor, d kernels.Dropout) mat.Tensor {
	return c.Out.Forward(kernels.DropoutOp(vectors, d))
}

// Loss returns the cross-entropy of logits against gold label indices
// (-100: none).
func (c *Classifier) Loss(logits mat.Tensor, gold []int) (mat.Tensor, error) {
	return kernels.CrossEntropy(logits, gold, -100)
}

// Decode returns the best label index of each row of logits (len(Labels)
// values per row; a trailing partial row is ignored).
func (c *Classifier) Decode(logits []float32) []int {
	K := len(c.Labels)
	out := make([]int, len(logits)/K)
	for i := range out {
		out[i] = decode.Argmax(logits[i*K : (i+1)*K])
	}
	return out
}
