package tasks

import (
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/tasks/lemmarule"
)

func init() { Register("lemma", lemmaType{}) }

// LemmaOptions are the options of a lemma task: lemmatisation as the
// classification of each word's edit script, the shortest edit that turns
// its form into its lemma (UDPipe 2, UDify; see package lemmarule), so
// that words never seen in training are lemmatised by the rules of words
// that inflect alike.
type LemmaOptions struct {
	// Pooling is how a word's pieces become one vector (heads.PoolModes).
	Pooling string `yaml:"pooling"`
	// Candidates is how many of the best-scored rules are tried, in order,
	// for a word whose best rule does not apply to its form (it removes
	// more characters than the form has); if none applies the lemma is the
	// form itself.
	Candidates int `yaml:"candidates"`
}

type lemmaType struct{}

func (lemmaType) Options() any { return &LemmaOptions{Pooling: "first", Candidates: 5} }

func (lemmaType) New(cfg *Config, d Data) (Head, error) {
	o := cfg.Options.(*LemmaOptions)
	if !d.WordLevel || !d.Has("lemma") {
		return nil, fmt.Errorf("a lemma task needs data with a LEMMA column (conllu), %s is %s", d.Name, d.Format)
	}
	if err := checkPooling(o.Pooling); err != nil {
		return nil, err
	}
	if o.Candidates < 1 {
		return nil, fmt.Errorf("candidates must be at least 1, got %d", o.Candidates)
	}
	return &lemmaHead{wordLabels: wordLabels{name: cfg.Name, pooling: o.Pooling}, opt: *o}, nil
}

type lemmaHead struct {
	wordLabels
	opt LemmaOptions
	// classifier scores the rules of the training words.
	classifier *heads.Tagger
	index      map[string]int
}

func (h *lemmaHead) Columns() []string { return []string{"lemma"} }

func (h *lemmaHead) Check(*Example) error { return nil }

// rules returns the gold rule of each word of an example; a word whose
// lemma is unspecified ("_" for a form other than "_") has none ("").
func rules(ex *Example) []string {
	lemmas := ex.Gold.Column("lemma")
	out := make([]string, len(lemmas))
	for i, l := range lemmas {
		if l != "_" || ex.Words[i] == "_" {
			out[i] = lemmarule.Rule(ex.Words[i], l)
		}
	}
	return out
}

func (h *lemmaHead) Vocabulary(train []*Example) []string { return vocabulary(train, rules, nil) }

func (h *lemmaHead) Build(labels []string, hidden int, _ []*Example, rng *rand.Rand) error {
	h.index = labelIndex(labels)
	if err := h.buildPooler(hidden, rng); err != nil {
		return err
	}
	h.classifier = heads.NewTagger(hidden, labels, false, rng)
	h.out, h.labels = h.classifier.Out, len(labels)
	return nil
}

func (h *lemmaHead) Params() []encoder.NamedParam {
	return append(h.pooler.NamedParams(), h.classifier.NamedParams()...)
}

func (h *lemmaHead) Loss(s Scores, b *Batch) (mat.Tensor, error) {
	ls := s.(*logitScores)
	var gold []int
	for _, ex := range b.Examples {
		gold = append(gold, indices(h.index, rules(ex))...)
	}
	return h.classifier.Loss(ls.logits, gold, ls.layout.counts)
}

// Predict applies each word's best-scored rule that applies to its form,
// of the Candidates best; the form itself when none does.
func (h *lemmaHead) Predict(s Scores, b *Batch) ([]Prediction, error) {
	ls := s.(*logitScores)
	K := len(h.classifier.Labels)
	values := ls.layout.packed(kernels.Values(ls.logits), K)
	var forms []string
	for _, ex := range b.Examples {
		forms = append(forms, ex.Words...)
	}
	if len(values) != len(forms)*K {
		return nil, fmt.Errorf("lemma: %d scores for %d words of %d rules", len(values), len(forms), K)
	}
	lemmas := make([]string, len(forms))
	tried := make([]bool, K)
	for w, form := range forms {
		row := values[w*K : (w+1)*K]
		clear(tried)
		lemmas[w] = form
		for range min(h.opt.Candidates, K) {
			best := -1
			for k, v := range row {
				if !tried[k] && (best < 0 || v > row[best]) {
					best = k
				}
			}
			tried[best] = true
			if l, err := lemmarule.Apply(h.classifier.Labels[best], form); err == nil {
				lemmas[w] = l
				break
			}
		}
	}
	out := make([]Prediction, len(b.Examples))
	for i, l := range split(ls.layout.counts, lemmas) {
		out[i] = Prediction{"lemma": l}
	}
	return out, nil
}
