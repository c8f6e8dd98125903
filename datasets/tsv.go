package datasets

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

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
// with a header: scored by accuracy and F1. Predictions replace the label
// column (the first task's; each other task's go into a column of its name
// at the end) and keep every other byte.
type tsvFormat struct{}

func (tsvFormat) Options() any { return &TSVOptions{Label: "label"} }

func (tsvFormat) Describe(opts any) (tasks.Data, error) {
	if opts.(*TSVOptions).Text == "" {
		return tasks.Data{}, fmt.Errorf("text: name the text column")
	}
	return tasks.Data{Columns: []string{"label"}}, nil
}

// row is a TSV example's annotation: its label, and its line of the file
// (with the header before the first row, for writing it back).
type row struct {
	label  string
	header string // the first row's: the header line
	line   string // with its ending
	column int    // the label's column
}

func (r *row) Column(name string) []string {
	if name == "label" {
		return []string{r.label}
	}
	return nil
}

func (tsvFormat) Read(path string, opts any, _ io.Writer) ([]*tasks.Example, error) {
	o := opts.(*TSVOptions)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rows, err := tsv.Read(bytes.NewReader(b), path, tsv.Options{Text: o.Text, TextPair: o.TextPair, Label: o.Label})
	if err != nil {
		return nil, err
	}
	lines := splitLines(b)
	column := slices.Index(strings.Split(strings.TrimRight(strings.TrimPrefix(lines[0], "\uFEFF"), "\r\n"), "\t"), o.Label)
	exs := make([]*tasks.Example, len(rows))
	for i, r := range rows {
		exs[i] = &tasks.Example{Text: r.Text, Pair: r.TextPair, Gold: &row{label: r.Label, line: lines[r.Line-1], column: column}, Line: r.Line}
	}
	if len(exs) > 0 {
		exs[0].Gold.(*row).header = lines[0]
	}
	return exs, nil
}

// withFields returns a line with field i replaced by v (if i ≥ 0) and
// extra fields appended, its ending kept.
func withFields(line string, i int, v string, extra []string) string {
	body := strings.TrimRight(line, "\r\n")
	fields := strings.Split(body, "\t")
	if i >= 0 {
		fields[i] = v
	}
	return strings.Join(append(fields, extra...), "\t") + line[len(body):]
}

// Write writes the file the examples were read from with the first task's
// labels in the label column, and a column for each other task.
func (tsvFormat) Write(w io.Writer, exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, _ any) error {
	bw := bufio.NewWriter(w)
	var names []string
	for _, t := range ts[1:] {
		names = append(names, t.Config.Name)
	}
	for i, ex := range exs {
		r := ex.Gold.(*row)
		if r.header != "" {
			bw.WriteString(withFields(r.header, -1, "", names))
		}
		var extra []string
		for _, t := range ts[1:] {
			extra = append(extra, preds[t][i]["label"][0])
		}
		label := preds[ts[0]][i]["label"][0]
		for _, v := range append(extra, label) {
			if strings.ContainsAny(v, "\t\r\n") {
				return fmt.Errorf("tsv: writing line %d: label %q cannot be written", ex.Line, v)
			}
		}
		bw.WriteString(withFields(r.line, r.column, label, extra))
	}
	return bw.Flush()
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
		addScores(out, t, len(preds) > 1, s.Report())
	}
	return out, nil
}

func (tsvFormat) MainMetric([]string) string { return "accuracy" }
