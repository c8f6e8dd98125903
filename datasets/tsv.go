package datasets

import (
	"fmt"
	"io"
	"slices"

	"github.com/hiertune/hiertune/data/tsv"
	"github.com/hiertune/hiertune/metrics"
	"github.com/hiertune/hiertune/tasks"
)

func init() { Register("tsv", tsvFormat{}) }

// TSVOptions name the columns of TSV classification data.
type TSVOptions struct {
	// Text, TextPair and Label are the columns of the text, the second
	// text of a pair (none for single texts) and the label.
	Text     string `yaml:"text"`
	TextPair string `yaml:"text_pair"`
	Label    string `yaml:"label"`
}

// tsvFormat is tab-separated sentence or sentence-pair classification data
// with a header: scored by accuracy and F1.
type tsvFormat struct{}

func (tsvFormat) Options() any { return &TSVOptions{Label: "label"} }

func (tsvFormat) Describe(opts any) (tasks.Data, error) {
	if opts.(*TSVOptions).Text == "" {
		return tasks.Data{}, fmt.Errorf("text: name the text column")
	}
	return tasks.Data{Columns: []string{"label"}}, nil
}

// label is a TSV example's annotation.
type label string

func (l label) Column(name string) []string {
	if name == "label" {
		return []string{string(l)}
	}
	return nil
}

func (tsvFormat) Read(path string, opts any) ([]*tasks.Example, error) {
	o := opts.(*TSVOptions)
	rows, err := tsv.ReadFile(path, tsv.Options{Text: o.Text, TextPair: o.TextPair, Label: o.Label})
	if err != nil {
		return nil, err
	}
	exs := make([]*tasks.Example, len(rows))
	for i, r := range rows {
		exs[i] = &tasks.Example{Text: r.Text, Pair: r.TextPair, Gold: label(r.Label), Line: r.Line}
	}
	return exs, nil
}

// Write writes the text column(s) and one predicted column per task, named
// after it.
func (tsvFormat) Write(w io.Writer, exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, opts any) error {
	o := opts.(*TSVOptions)
	header := []string{o.Text}
	if o.TextPair != "" {
		header = append(header, o.TextPair)
	}
	for _, t := range ts {
		header = append(header, t.Config.Name)
	}
	rows := make([][]string, len(exs))
	for i, ex := range exs {
		row := []string{ex.Text}
		if o.TextPair != "" {
			row = append(row, ex.Pair)
		}
		for _, t := range ts {
			row = append(row, preds[t][i]["label"][0])
		}
		rows[i] = row
	}
	return tsv.Write(w, header, rows)
}

// Score gives accuracy, macro-F1 and, for a binary task with a label "1",
// that label's F1, for each task; with several tasks the keys start with
// the task's name.
func (tsvFormat) Score(exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, _ any) (map[string]float64, error) {
	out := map[string]float64{}
	for _, t := range ts {
		ps, ok := preds[t]
		if !ok {
			continue
		}
		var gold, pred []string
		for i, ex := range exs {
			gold, pred = append(gold, ex.Gold.Column("label")[0]), append(pred, ps[i]["label"][0])
		}
		positive := ""
		if len(t.Labels) == 2 && slices.Contains(t.Labels, "1") {
			positive = "1"
		}
		s, err := metrics.Classify(gold, pred, positive)
		if err != nil {
			return nil, err
		}
		prefix := ""
		if len(preds) > 1 {
			prefix = t.Config.Name + "_"
		}
		for k, v := range s.Report() {
			out[prefix+k] = v
		}
	}
	return out, nil
}

func (tsvFormat) MainMetric([]string) string { return "accuracy" }
