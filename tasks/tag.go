package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/heads/decode"
	"github.com/hiertune/hiertune/kernels"
)

func init() { Register("tag", tagType{}) }

// TagOptions are the options of a tag task: a label per word from one
// column (upos, xpos, feats as one tag, lemma or deprel of CoNLL-U; the
// tags of CoNLL NER data), with an optional CRF.
type TagOptions struct {
	// Column is the annotation column predicted; it may be left out when
	// the dataset has only one.
	Column string `yaml:"column"`
	CRF    bool   `yaml:"crf"`
	// Pooling is how a word's pieces become one vector (heads.PoolModes).
	Pooling string `yaml:"pooling"`
}

type tagType struct{}

func (tagType) Options() any { return &TagOptions{Pooling: "first"} }

func (tagType) New(cfg *Config, d Data) (Head, error) {
	o := cfg.Options.(*TagOptions)
	if !d.WordLevel {
		return nil, fmt.Errorf("a tag task needs word-level data, %s is %s", d.Name, d.Format)
	}
	var columns []string
	for _, c := range d.Columns {
		if c != "head" {
			columns = append(columns, c)
		}
	}
	if o.Column == "" && len(columns) == 1 {
		o.Column = columns[0]
	}
	if !slices.Contains(columns, o.Column) {
		return nil, fmt.Errorf("column must be one of %s, got %q", strings.Join(columns, ", "), o.Column)
	}
	if err := checkPooling(o.Pooling); err != nil {
		return nil, err
	}
	return &tagHead{wordLabels: wordLabels{name: cfg.Name, pooling: o.Pooling}, opt: *o, scheme: d.Scheme}, nil
}

type tagHead struct {
	wordLabels
	opt    TagOptions
	scheme string
	tagger *heads.Tagger
	index  map[string]int
}

func (h *tagHead) Columns() []string { return []string{h.opt.Column} }

func (h *tagHead) Check(*Example) error { return nil }

func (h *tagHead) Vocabulary(train []*Example) []string {
	return vocabulary(train, func(ex *Example) []string { return ex.Gold.Column(h.opt.Column) }, nil)
}

func (h *tagHead) Build(labels []string, hidden int, _ []*Example, rng *rand.Rand) error {
	h.index = labelIndex(labels)
	if err := h.buildPooler(hidden, rng); err != nil {
		return err
	}
	h.tagger = heads.NewTagger(hidden, labels, h.opt.CRF, rng)
	h.out, h.labels = h.tagger.Out, len(labels)
	if h.opt.CRF && (h.scheme == "iob2" || h.scheme == "iobes") {
		var err error
		if h.scheme == "iobes" {
			h.tagger.Allowed, err = decode.IOBESConstraints(labels)
		} else {
			h.tagger.Allowed, err = decode.IOB2Constraints(labels)
		}
		return err
	}
	return nil
}

func (h *tagHead) Params() []encoder.NamedParam {
	return append(h.pooler.NamedParams(), h.tagger.NamedParams()...)
}

func (h *tagHead) Loss(s Scores, b *Batch) (mat.Tensor, error) {
	ls := s.(*logitScores)
	var gold []int
	for _, ex := range b.Examples {
		gold = append(gold, indices(h.index, ex.Gold.Column(h.opt.Column))...)
	}
	return h.tagger.Loss(ls.logits, gold, ls.layout.counts)
}

func (h *tagHead) Predict(s Scores, b *Batch) ([]Prediction, error) {
	ls := s.(*logitScores)
	idx, err := h.tagger.Decode(ls.layout.packed(kernels.Values(ls.logits), len(h.tagger.Labels)), ls.layout.counts)
	if err != nil {
		return nil, err
	}
	out := make([]Prediction, len(b.Examples))
	for i, ix := range split(ls.layout.counts, idx) {
		out[i] = Prediction{h.opt.Column: names(h.tagger.Labels, ix)}
	}
	return out, nil
}
