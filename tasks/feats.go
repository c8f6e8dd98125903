package tasks

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
)

func init() { Register("feats", featsType{}) }

// FeatsOptions are the options of a feats task: morphological features
// (the FEATS column) as a multi-label problem, one sigmoid per
// Feature=Value pair.
type FeatsOptions struct {
	// Pooling is how a word's pieces become one vector (heads.PoolModes).
	Pooling string `yaml:"pooling"`
}

type featsType struct{}

func (featsType) Options() any { return &FeatsOptions{Pooling: "first"} }

func (featsType) New(cfg *Config, d Data) (Head, error) {
	o := cfg.Options.(*FeatsOptions)
	if !d.WordLevel || !d.Has("feats") {
		return nil, fmt.Errorf("a feats task needs data with a FEATS column (conllu), %s is %s", d.Name, d.Format)
	}
	if err := checkPooling(o.Pooling); err != nil {
		return nil, err
	}
	return &featsHead{wordLabels: wordLabels{name: cfg.Name, pooling: o.Pooling, sigmoid: true}}, nil
}

type featsHead struct {
	wordLabels
	feats *heads.Feats
}

func (h *featsHead) Columns() []string { return []string{"feats"} }

func (h *featsHead) Check(*Example) error { return nil }

// splitFeats returns the Feature=Value pairs of a FEATS value.
func splitFeats(v string) []string {
	if v == "_" || v == "" {
		return nil
	}
	return strings.Split(v, "|")
}

func (h *featsHead) Vocabulary(train []*Example) []string {
	return vocabulary(train, func(ex *Example) []string { return ex.Gold.Column("feats") }, splitFeats)
}

func (h *featsHead) Build(labels []string, hidden int, train []*Example, rng *rand.Rand) error {
	if err := h.buildPooler(hidden, rng); err != nil {
		return err
	}
	h.feats = heads.NewFeats(hidden, labels, rng)
	h.out, h.labels = h.feats.Out, len(labels)
	if train != nil {
		h.feats.SetPriors(h.pairFrequencies(train))
	}
	return nil
}

// pairFrequencies returns the share of training words that have each
// Feature=Value pair.
func (h *featsHead) pairFrequencies(train []*Example) []float64 {
	freq := make([]float64, len(h.feats.Pairs))
	words := 0
	for _, ex := range train {
		for _, f := range ex.Gold.Column("feats") {
			words++
			for i, v := range h.feats.Targets(f) {
				freq[i] += float64(v)
			}
		}
	}
	for i := range freq {
		freq[i] /= float64(max(words, 1))
	}
	return freq
}

func (h *featsHead) Params() []encoder.NamedParam {
	return append(h.pooler.NamedParams(), h.feats.NamedParams()...)
}

func (h *featsHead) Loss(s Scores, b *Batch) (mat.Tensor, error) {
	var targets []float32
	var keep []bool
	for _, ex := range b.Examples {
		for _, f := range ex.Gold.Column("feats") {
			targets = append(targets, h.feats.Targets(f)...)
			keep = append(keep, true)
		}
	}
	return h.feats.Loss(s.(*logitScores).logits, targets, keep), nil
}

func (h *featsHead) Predict(s Scores, b *Batch) ([]Prediction, error) {
	ls := s.(*logitScores)
	feats := h.feats.Decode(ls.layout.packed(kernels.Values(ls.logits), len(h.feats.Pairs)))
	out := make([]Prediction, len(b.Examples))
	for i, f := range split(ls.layout.counts, feats) {
		out[i] = Prediction{"feats": f}
	}
	return out, nil
}
