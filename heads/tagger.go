package heads

import (
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads/decode"
	"github.com/hiertune/hiertune/kernels"
)

// Tagger labels words: dropout and a linear layer (Out) on their vectors
// give the logits, trained with softmax cross-entropy, or with a
// linear-chain CRF (transition, start and end scores) when CRF is set — the
// usual choice for BIO tagging.
type Tagger struct {
	nn.Module
	Out         *encoder.Linear
	Labels      []string
	CRF         bool
	Transitions *nn.Param // [K, K]: score of label j after label i
	Start, End  *nn.Param // [K]
	// Allowed, when not nil, restricts the CRF's decoding (for example to
	// valid IOB2 sequences).
	Allowed *decode.Constraints
}

// NewTagger returns a tagger over labels for hidden-wide word vectors.
func NewTagger(hidden int, labels []string, crf bool, rng *rand.Rand) *Tagger {
	t := &Tagger{Out: newLinear(hidden, len(labels), rng), Labels: labels, CRF: crf}
	if crf {
		K := len(labels)
		t.Transitions, t.Start, t.End = zeroParam(K, K), zeroParam(K, 1), zeroParam(K, 1)
	}
	return t
}

// NamedParams returns the tagger's parameters.
func (t *Tagger) NamedParams() []encoder.NamedParam {
	ps := linearParams("out", t.Out)
	if t.CRF {
		K := len(t.Labels)
		ps = append(ps, matrixParam("crf.transitions", t.Transitions),
			encoder.NamedParam{Name: "crf.start", Param: t.Start, Shape: []int{K}},
			encoder.NamedParam{Name: "crf.end", Param: t.End, Shape: []int{K}})
	}
	return ps
}

// Loss returns the training loss of the logits of words whose gold label
// indices are gold (-100: no label). sentences gives the number of words of
// each sentence, in order (the CRF scores whole sentences; a sentence with
// an unlabelled word is skipped by the CRF).
func (t *Tagger) Loss(logits mat.Tensor, gold []int, sentences []int) (mat.Tensor, error) {
	if !t.CRF {
		return kernels.CrossEntropy(logits, gold, -100)
	}
	return kernels.Op(&crfFn{logits: logits, gold: gold, sentences: sentences, t: t}), nil
}

// Decode returns the label index of every word from the tagger's logits
// (one row of len(Labels) values per word, sentences[i] words for
// sentence i): the argmax, or the CRF's Viterbi path.
func (t *Tagger) Decode(logits []float32, sentences []int) ([]int, error) {
	K, words := len(t.Labels), 0
	for _, n := range sentences {
		if n < 0 {
			return nil, fmt.Errorf("tagger: sentence of %d words", n)
		}
		words += n
	}
	if len(logits) != words*K {
		return nil, fmt.Errorf("tagger: %d logits for %d words of %d labels", len(logits), words, K)
	}
	out := make([]int, 0, words)
	if !t.CRF {
		for r := 0; r < words; r++ {
			out = append(out, decode.Argmax(logits[r*K:(r+1)*K]))
		}
		return out, nil
	}
	trans, start, end := t.crfParams()
	at := 0
	for _, n := range sentences {
		y, err := decode.Viterbi(rowsOf(logits[at*K:(at+n)*K], n, K), trans, start, end, t.Allowed)
		if err != nil {
			return nil, err
		}
		out = append(out, y...)
		at += n
	}
	return out, nil
}

func (t *Tagger) crfParams() (trans [][]float64, start, end []float64) {
	K := len(t.Labels)
	return rowsOf(kernels.Values(t.Transitions), K, K), toFloat64(kernels.Values(t.Start)), toFloat64(kernels.Values(t.End))
}

// crfFn is the mean CRF negative log-likelihood over sentences, an
// operator on the emission scores and the CRF's parameters.
type crfFn struct {
	logits    mat.Tensor
	gold      []int
	sentences []int
	t         *Tagger
	grads     []crfGrad
	count     int
}

type crfGrad struct {
	at, n         int
	dEmis, dTrans [][]float64
	dStart, dEnd  []float64
}

func (f *crfFn) Operands() []mat.Tensor {
	return []mat.Tensor{f.logits, f.t.Transitions, f.t.Start, f.t.End}
}

func (f *crfFn) Forward() (mat.Tensor, error) {
	K := len(f.t.Labels)
	logits := kernels.Values(f.logits)
	trans, start, end := f.t.crfParams()
	var sum float64
	at := 0
	for _, n := range f.sentences {
		gold := f.gold[at : at+n]
		labelled := n > 0
		for _, g := range gold {
			labelled = labelled && g >= 0
		}
		if labelled {
			nll, dE, dT, dS, dN, err := decode.CRFNLL(rowsOf(logits[at*K:(at+n)*K], n, K), gold, trans, start, end)
			if err != nil {
				return nil, fmt.Errorf("crf: %w", err) // cannot happen: shapes are checked when built
			}
			sum += nll
			f.grads = append(f.grads, crfGrad{at, n, dE, dT, dS, dN})
			f.count++
		}
		at += n
	}
	loss := float32(0)
	if f.count > 0 {
		loss = float32(sum / float64(f.count))
	}
	return kernels.NewMatrix(1, 1, []float32{loss}), nil
}

func (f *crfFn) Backward(gy mat.Tensor) error {
	if f.count == 0 {
		return nil
	}
	K := len(f.t.Labels)
	scale := float64(kernels.Values(gy)[0]) / float64(f.count)
	rows, _ := kernels.Dims(f.logits)
	dl, dt, ds, de := kernels.Alloc(rows*K), kernels.Alloc(K*K), kernels.Alloc(K), kernels.Alloc(K)
	for _, g := range f.grads {
		for i := 0; i < g.n; i++ {
			for k := 0; k < K; k++ {
				dl[(g.at+i)*K+k] += float32(scale * g.dEmis[i][k])
			}
		}
		for i := 0; i < K; i++ {
			for j := 0; j < K; j++ {
				dt[i*K+j] += float32(scale * g.dTrans[i][j])
			}
			ds[i] += float32(scale * g.dStart[i])
			de[i] += float32(scale * g.dEnd[i])
		}
	}
	kernels.AccGrad(f.logits, dl)
	kernels.AccGrad(f.t.Transitions, dt)
	kernels.AccGrad(f.t.Start, ds)
	kernels.AccGrad(f.t.End, de)
	return nil
}

func rowsOf(v []float32, n, k int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = toFloat64(v[i*k : (i+1)*k])
	}
	return out
}

func toFloat64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
