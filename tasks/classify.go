package tasks

import (
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/onnx/graph"
	"github.com/hiertune/hiertune/tensor"
)

func init() { Register("classify", classifyType{}) }

// ClassifyOptions are the options of a classify task: a label per text or
// text pair (the label column of TSV data).
type ClassifyOptions struct {
	// Pooling is cls (the [CLS] state) or mean (of the tokens).
	Pooling string `yaml:"pooling"`
}

type classifyType struct{}

func (classifyType) Options() any { return &ClassifyOptions{Pooling: "cls"} }

func (classifyType) New(cfg *Config, d Data) (Head, error) {
	o := cfg.Options.(*ClassifyOptions)
	if d.WordLevel || !d.Has("label") {
		return nil, fmt.Errorf("a classify task needs texts with a label column (tsv), %s is %s", d.Name, d.Format)
	}
	if o.Pooling != "cls" && o.Pooling != "mean" {
		return nil, fmt.Errorf("pooling for classify must be cls or mean, got %q", o.Pooling)
	}
	return &classifyHead{name: cfg.Name, mean: o.Pooling == "mean"}, nil
}

type classifyHead struct {
	name       string
	mean       bool
	classifier *heads.Classifier
	index      map[string]int
}

// classScores are a classifier's logits: one row per example, or for a
// graph one per encoder row.
type classScores struct {
	logits mat.Tensor
	graph  bool
}

func (h *classifyHead) Columns() []string { return []string{"label"} }

func (h *classifyHead) Check(*Example) error { return nil }

func (h *classifyHead) Vocabulary(train []*Example) []string {
	return vocabulary(train, func(ex *Example) []string { return ex.Gold.Column("label") }, nil)
}

func (h *classifyHead) Build(labels []string, hidden int, _ []*Example, rng *rand.Rand) error {
	h.index = labelIndex(labels)
	h.classifier = heads.NewClassifier(hidden, labels, rng)
	return nil
}

func (h *classifyHead) Params() []encoder.NamedParam { return h.classifier.NamedParams() }

func (h *classifyHead) Scores(in *Input, d heads.Dropout) (Scores, error) {
	return &classScores{logits: h.classifier.Logits(in.Sentences(h.mean), d()), graph: in.Graph}, nil
}

func (h *classifyHead) Loss(s Scores, b *Batch) (mat.Tensor, error) {
	var gold []int
	for _, ex := range b.Examples {
		gold = append(gold, indices(h.index, ex.Gold.Column("label"))...)
	}
	return h.classifier.Loss(s.(*classScores).logits, gold)
}

func (h *classifyHead) Predict(s Scores, b *Batch) ([]Prediction, error) {
	cs := s.(*classScores)
	best := h.classifier.Decode(kernels.Values(cs.logits))
	out := make([]Prediction, len(b.Examples))
	for i := range b.Examples {
		r := i
		if cs.graph {
			r = b.FirstRow(i)
		}
		out[i] = Prediction{"label": {h.classifier.Labels[best[r]]}}
	}
	return out, nil
}

func (h *classifyHead) Targets(s Scores, b *Batch) ([]Target, error) {
	n := len(b.Examples)
	return []Target{{Name: h.name, Scores: s.(*classScores).logits, Rows: same(n, 1), Cols: same(n, len(h.classifier.Labels))}}, nil
}

func (h *classifyHead) Outputs() []string { return []string{LogitsOutput(h.name)} }

func (h *classifyHead) GraphOutputs(s Scores) (map[string]*tensor.Tensor, error) {
	logits := s.(*classScores).logits
	rows, k := kernels.Dims(logits)
	return map[string]*tensor.Tensor{LogitsOutput(h.name): tensor.FromFloat32([]int{rows, k}, kernels.Values(logits))}, nil
}

func (h *classifyHead) FromGraph(outs map[string]*tensor.Tensor, b *Batch) (Scores, error) {
	k := len(h.classifier.Labels)
	v, err := graphOutput(outs, LogitsOutput(h.name), b.Enc.Size, k)
	if err != nil {
		return nil, err
	}
	return &classScores{logits: kernels.NewMatrix(b.Enc.Size, k, v), graph: true}, nil
}

func (h *classifyHead) Export(in GraphInput) ([]*onnx.ValueInfo, error) {
	x, err := in.Sentences(h.mean)
	if err != nil {
		return nil, err
	}
	return exportLogits(in, x, h.classifier.Out, graph.Dims("batch", len(h.classifier.Labels)))
}
