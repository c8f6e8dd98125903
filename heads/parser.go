package heads

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads/decode"
	"github.com/hiertune/hiertune/kernels"
)

// Parser is Dozat & Manning's biaffine dependency parser (ICLR 2017): four
// MLPs (linear, LeakyReLU 0.1, dropout) over the word vectors give each word
// a dependent and a head representation for arcs and for labels; arc scores
// are biaffine with a bias on the dependent side, label scores biaffine with
// linear and bias terms. The word at slot 0 of each sentence is ROOT (the
// [CLS] vector). Trained with cross-entropy over heads and over labels at the
// gold head; decoded into a tree (maximum spanning tree, Eisner's projective
// algorithm, or greedy heads), with the label "root" exactly for words
// attached to ROOT. The biaffine weights start at zero, as theirs.
type Parser struct {
	nn.Module
	ArcDep, ArcHead *encoder.Linear
	RelDep, RelHead *encoder.Linear
	ArcU            *nn.Param // [arc+1, arc]
	RelU            *nn.Param // [rel+1, labels·(rel+1)]
	Labels          []string
	// Decoder is "mst" (default), "eisner" or "greedy".
	Decoder string
	root    int // index of the label "root", or -1
}

// Decoders are the parser's tree decoders.
var Decoders = []string{"mst", "eisner", "greedy"}

// NewParser returns a parser for hidden-wide word vectors with arc and
// label MLPs of the given sizes.
func NewParser(hidden, arc, rel int, labels []string, decoder string, rng *rand.Rand) (*Parser, error) {
	if decoder == "" {
		decoder = "mst"
	}
	switch decoder {
	case "mst", "eisner", "greedy":
	default:
		return nil, fmt.Errorf("unknown tree decoder %q (want one of %v)", decoder, Decoders)
	}
	p := &Parser{
		ArcDep: newLinear(hidden, arc, rng), ArcHead: newLinear(hidden, arc, rng),
		RelDep: newLinear(hidden, rel, rng), RelHead: newLinear(hidden, rel, rng),
		ArcU: zeroParam(arc+1, arc), RelU: zeroParam(rel+1, len(labels)*(rel+1)),
		Labels: labels, Decoder: decoder, root: -1,
	}
	for i, l := range labels {
		if l == "root" {
			p.root = i
		}
	}
	return p, nil
}

// NamedParams returns the parser's parameters.
func (p *Parser) NamedParams() []encoder.NamedParam {
	var ps []encoder.NamedParam
	ps = append(ps, linearParams("arc_dep", p.ArcDep)...)
	ps = append(ps, linearParams("arc_head", p.ArcHead)...)
	ps = append(ps, linearParams("rel_dep", p.RelDep)...)
	ps = append(ps, linearParams("rel_head", p.RelHead)...)
	return append(ps, matrixParam("arc_biaffine", p.ArcU), matrixParam("rel_biaffine", p.RelU))
}

func mlp(l *encoder.Linear, x mat.Tensor, d Dropout) mat.Tensor {
	return kernels.DropoutOp(kernels.Activate(l.Forward(x), kernels.LeakyReLU), d())
}

// Sentences is a batch of B sentences padded to W slots: slot 0 is ROOT,
// slots 1..Lengths[b]-1 the words. Word vectors are [B·W, hidden].
type Sentences struct {
	B, W    int
	Lengths []int // words + 1 (ROOT)
}

// Scores are a parser's scores on a batch of sentences: the arc score of
// every dependent–head pair, and the label MLPs' outputs from which Labels
// scores the labels of any arcs.
type Scores struct {
	S Sentences
	// Arc holds the arc scores [B·W, W] as kernels.ArcScores lays them
	// out (impossible heads Masked).
	Arc             mat.Tensor
	relDep, relHead mat.Tensor
	p               *Parser
}

// Forward computes the parser's scores on word vectors laid out as s, with
// dropout drawn from d on the words and after each MLP.
func (p *Parser) Forward(words mat.Tensor, s Sentences, d Dropout) *Scores {
	x := kernels.DropoutOp(words, d())
	arc := kernels.ArcScores(mlp(p.ArcDep, x, d), mlp(p.ArcHead, x, d), p.ArcU, s.B, s.W, s.Lengths)
	return &Scores{S: s, Arc: arc, relDep: mlp(p.RelDep, x, d), relHead: mlp(p.RelHead, x, d), p: p}
}

// Labels returns the label scores [arcs, labels] of the arcs from the
// slots deps to the slots govs (both b·W+i).
func (s *Scores) Labels(deps, govs []int) mat.Tensor {
	p := s.p
	return kernels.Bilinear(kernels.GatherRows(s.relDep, deps), kernels.GatherRows(s.relHead, govs), p.RelU, len(p.Labels))
}

// AllLabels returns the label scores of every dependent–head pair
// [B·W·W, labels], row (b·W+i)·W+j for dependent i and head j of sentence
// b.
func (s *Scores) AllLabels() mat.Tensor {
	return kernels.BilinearAllPairs(kernels.Values(s.relDep), kernels.Values(s.relHead), kernels.Values(s.p.RelU), s.S.B, s.S.W, len(s.p.Labels))
}

// Loss returns the arc and label losses. heads and rels give, for each slot
// b·W+i, the gold head index (within the sentence) and label index, or -100
// for slots without (ROOT, padding, words without a gold head).
func (p *Parser) Loss(s *Scores, heads, rels []int) (arc, label mat.Tensor, err error) {
	arc, err = kernels.CrossEntropy(s.Arc, heads, -100)
	if err != nil {
		return nil, nil, err
	}
	deps, govs := GoldArcs(s.S, heads, rels)
	if len(deps) == 0 {
		return arc, kernels.NewMatrix(1, 1, []float32{0}), nil
	}
	gold := make([]int, len(deps))
	for i, d := range deps {
		gold[i] = rels[d]
	}
	label, err = kernels.CrossEntropy(s.Labels(deps, govs), gold, -100)
	return arc, label, err
}

// GoldArcs returns the slots of the dependents and heads of the gold arcs
// that have a label: slots with a head and a label index not below 0.
func GoldArcs(s Sentences, heads, rels []int) (deps, govs []int) {
	for slot, h := range heads {
		if h >= 0 && rels[slot] >= 0 {
			deps = append(deps, slot)
			govs = append(govs, slot/s.W*s.W+h)
		}
	}
	return deps, govs
}

// Predict decodes each sentence's heads and labels (index 0 is ROOT, with
// head -1 and label -1) from arc scores laid out as ArcScores lays them out
// and the label scores that labels returns for the chosen arcs.
func (p *Parser) Predict(arc []float32, s Sentences, labels func(deps, govs []int) []float32) (heads, labelIdx [][]int, err error) {
	if heads, err = p.DecodeHeads(arc, s); err != nil {
		return nil, nil, err
	}
	var deps, govs []int
	for b, h := range heads {
		for i := 1; i < len(h); i++ {
			deps, govs = append(deps, b*s.W+i), append(govs, b*s.W+h[i])
		}
	}
	var scores []float32
	if len(deps) > 0 {
		scores = labels(deps, govs)
	}
	labelIdx, err = p.DecodeLabels(heads, scores)
	return heads, labelIdx, err
}

// DecodeHeads returns each sentence's heads (index 0 is ROOT, with head
// -1) from arc scores laid out as ArcScores returns them, [B·W, W], with
// the parser's tree decoder.
func (p *Parser) DecodeHeads(arc []float32, s Sentences) (heads [][]int, err error) {
	W := s.W
	if len(s.Lengths) != s.B || len(arc) != s.B*W*W {
		return nil, fmt.Errorf("parser: %d arc scores and %d lengths for %d sentences of %d slots", len(arc), len(s.Lengths), s.B, W)
	}
	for b, n := range s.Lengths {
		if n < 1 || n > W {
			return nil, fmt.Errorf("parser: sentence %d has length %d outside [1, %d]", b, n, W)
		}
		scores := make([][]float64, n)
		for i := range scores {
			scores[i] = logSoftmax(arc[(b*W+i)*W : (b*W+i)*W+n])
		}
		var h []int
		switch p.Decoder {
		case "mst":
			h, err = decode.MST(scores)
		case "eisner":
			h, err = decode.Eisner(scores)
		default:
			h, err = decode.Greedy(scores)
		}
		if err != nil {
			return nil, err
		}
		h[0] = -1
		heads = append(heads, h)
	}
	return heads, nil
}

// DecodeLabels returns each word's label index (-1 for ROOT) given its
// head, from the label scores of the chosen arcs: one row of len(Labels)
// values per word 1..n-1 of each sentence in turn.
func (p *Parser) DecodeLabels(heads [][]int, scores []float32) ([][]int, error) {
	L, k := len(p.Labels), 0
	arcs := 0
	for _, h := range heads {
		arcs += max(len(h)-1, 0)
	}
	if len(scores) != arcs*L {
		return nil, fmt.Errorf("parser: %d label scores for %d arcs of %d labels", len(scores), arcs, L)
	}
	labels := make([][]int, len(heads))
	for b, h := range heads {
		labels[b] = make([]int, max(len(h), 1))
		labels[b][0] = -1
		for i := 1; i < len(h); i++ {
			labels[b][i] = p.label(scores[k*L:(k+1)*L], h[i] == 0)
			k++
		}
	}
	return labels, nil
}

// label picks a word's label: "root" exactly when it is attached to ROOT
// (when the label set has "root"), otherwise the best other label.
func (p *Parser) label(scores []float32, toRoot bool) int {
	if p.root < 0 {
		return decode.Argmax(scores)
	}
	if toRoot {
		return p.root
	}
	best := -1
	for i, v := range scores {
		if i != p.root && (best < 0 || v > scores[best]) {
			best = i
		}
	}
	if best < 0 {
		return p.root
	}
	return best
}

func logSoftmax(v []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, float64(x))
	}
	var z float64
	for _, x := range v {
		z += math.Exp(float64(x) - m)
	}
	out := make([]float64, len(v))
	lz := m + math.Log(z)
	for i, x := range v {
		out[i] = float64(x) - lz
	}
	return out
}
