package datasets

import (
	"fmt"
	"io"
	"slices"

	"github.com/hiertune/hiertune/data/conll"
	"github.com/hiertune/hiertune/metrics"
	"github.com/hiertune/hiertune/tasks"
)

func init() { Register("conll", conllFormat{}) }

// ConllOptions are the options of CoNLL NER data.
type ConllOptions struct {
	// TokenPrefix is a prefix every token carries (WikiANN's "en:").
	TokenPrefix string `yaml:"token_prefix"`
	// StripBOM removes U+FEFF from the text (WNUT-17 has them).
	StripBOM bool `yaml:"strip_bom"`
	// Scheme is the tag scheme: iob1, iob2 or iobes.
	Scheme string `yaml:"scheme"`
}

// conllFormat is CoNLL token-per-line data with one tag column (named
// entities): scored by span precision, recall and F1.
type conllFormat struct{}

func (conllFormat) Options() any { return &ConllOptions{Scheme: "iob2"} }

func (conllFormat) Describe(opts any) (tasks.Data, error) {
	o := opts.(*ConllOptions)
	if !slices.Contains([]string{"iob1", "iob2", "iobes"}, o.Scheme) {
		return tasks.Data{}, fmt.Errorf("scheme must be iob1, iob2 or iobes, got %q", o.Scheme)
	}
	return tasks.Data{Columns: []string{"tag"}, WordLevel: true, Scheme: o.Scheme}, nil
}

// tags is a CoNLL example's annotation.
type tags []string

func (t tags) Column(name string) []string {
	if name == "tag" {
		return t
	}
	return nil
}

func (conllFormat) Read(path string, opts any) ([]*tasks.Example, error) {
	o := opts.(*ConllOptions)
	sents, err := conll.ReadFile(path, conll.Options{TokenPrefix: o.TokenPrefix, StripBOM: o.StripBOM})
	if err != nil {
		return nil, err
	}
	var exs []*tasks.Example
	for _, s := range sents {
		if len(s.Words) > 0 {
			exs = append(exs, &tasks.Example{Words: s.Words, Gold: tags(s.Tags), Line: s.Line})
		}
	}
	return exs, nil
}

// Write writes token<TAB>tag lines with the first task's tags.
func (conllFormat) Write(w io.Writer, exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, _ any) error {
	sents := make([]conll.Sentence, len(exs))
	for i, ex := range exs {
		sents[i] = conll.Sentence{Words: ex.Words, Tags: preds[ts[0]][i]["tag"]}
	}
	return conll.Write(w, sents)
}

// Score gives span precision, recall and F1, strict (seqeval's mode for
// the scheme) and lenient (conlleval's reading), for each task; with
// several tasks the keys start with the task's name.
func (conllFormat) Score(exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, opts any) (map[string]float64, error) {
	o := opts.(*ConllOptions)
	scheme := metrics.IOB2
	if o.Scheme == "iobes" {
		scheme = metrics.IOBES
	}
	out := map[string]float64{}
	for _, t := range ts {
		ps, ok := preds[t]
		if !ok {
			continue
		}
		var gold, pred [][]string
		for i, ex := range exs {
			gold, pred = append(gold, ex.Gold.Column("tag")), append(pred, ps[i]["tag"])
		}
		strict, err := metrics.Spans(gold, pred, scheme, o.Scheme != "iob1")
		if err != nil {
			return nil, err
		}
		lenient, err := metrics.Spans(gold, pred, scheme, false)
		if err != nil {
			return nil, err
		}
		prefix := ""
		if len(preds) > 1 {
			prefix = t.Config.Name + "_"
		}
		for k, v := range strict.Report() {
			out[prefix+k] = v
		}
		out[prefix+"ner_f1_lenient"] = lenient.F1
	}
	return out, nil
}

func (conllFormat) MainMetric([]string) string { return "ner_f1" }
