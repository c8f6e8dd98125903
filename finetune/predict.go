package finetune

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/hiertune/hiertune/data/conll"
	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/kernels"
)

// Evaluate scores the model on path, a file in the format of the named
// dataset (or the only one), with the metrics training logs for its dev
// set, keyed "dataset.metric".
func (m *Model) Evaluate(datasetName, path string, batchSize int, log io.Writer) (map[string]float64, error) {
	d, err := m.datasetFor(datasetName)
	if err != nil {
		return nil, err
	}
	exs, _, err := d.readInput(path, m.tok, m.maxLen, m.stride, log)
	if err != nil {
		return nil, err
	}
	preds, err := m.run(d, exs, batchSize)
	if err != nil {
		return nil, err
	}
	return m.score(d, exs, preds)
}

// run predicts in an arena of its own, as training evaluates, so that the
// scores are those the run logged.
func (m *Model) run(d *dataset, exs []*example, batchSize int) (predictions, error) {
	if batchSize <= 0 {
		batchSize = m.cfg.Eval.BatchSize
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	return m.predict(d, exs, batchSize, arena)
}

// Predict annotates the file in, in the format of the named dataset (or the
// only one), and writes the result to out in the same format: CoNLL-U with
// the predicted columns replaced and everything else kept byte for byte,
// CoNLL with the predicted tags, or TSV with a column per task.
func (m *Model) Predict(datasetName, in string, out io.Writer, batchSize int, log io.Writer) error {
	d, err := m.datasetFor(datasetName)
	if err != nil {
		return err
	}
	exs, sents, err := d.readInput(in, m.tok, m.maxLen, m.stride, log)
	if err != nil {
		return err
	}
	preds, err := m.run(d, exs, batchSize)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	switch d.cfg.Format {
	case "conllu":
		applyUD(d.tasks, exs, preds)
		err = conllu.Write(w, sents)
	case "conll":
		err = writeNER(w, d, exs, preds)
	default:
		err = writeTSV(w, d, exs, preds)
	}
	if err != nil {
		return err
	}
	return w.Flush()
}

// applyUD writes the predictions of tasks, in their configured order, into
// the sentences' words: when two tasks predict the same column (a parser and
// a deprel tagger), the later task's labels are written.
func applyUD(tasks []*task, exs []*example, preds predictions) {
	for _, t := range tasks {
		ps, ok := preds[t]
		if !ok {
			continue
		}
		for i, ex := range exs {
			for j, w := range ex.sent.Words() {
				p := ps[i]
				switch {
				case t.cfg.Type == "parse":
					w.Head, w.DepRel = p.heads[j], p.labels[j]
				case t.cfg.Type == "feats":
					w.Feats = p.labels[j]
				default:
					switch t.cfg.Column {
					case "upos":
						w.UPOS = p.labels[j]
					case "xpos":
						w.XPOS = p.labels[j]
					case "feats":
						w.Feats = p.labels[j]
					case "lemma":
						w.Lemma = p.labels[j]
					case "deprel":
						w.DepRel = p.labels[j]
					}
				}
			}
		}
	}
}

// writeNER writes token<TAB>tag lines, the first tag task's tags.
func writeNER(w io.Writer, d *dataset, exs []*example, preds predictions) error {
	t := d.tasks[0]
	sents := make([]conll.Sentence, len(exs))
	for i, ex := range exs {
		sents[i] = conll.Sentence{Words: ex.words, Tags: preds[t][i].labels}
	}
	return conll.Write(w, sents)
}

// writeTSV writes the text column(s) and one predicted column per task.
func writeTSV(w io.Writer, d *dataset, exs []*example, preds predictions) error {
	header := []string{d.cfg.Text}
	if d.cfg.TextPair != "" {
		header = append(header, d.cfg.TextPair)
	}
	for _, t := range d.tasks {
		header = append(header, t.cfg.Name)
	}
	if _, err := fmt.Fprintln(w, strings.Join(header, "\t")); err != nil {
		return err
	}
	for i, ex := range exs {
		row := []string{ex.text}
		if d.cfg.TextPair != "" {
			row = append(row, ex.pair)
		}
		for _, t := range d.tasks {
			row = append(row, preds[t][i].labels[0])
		}
		if _, err := fmt.Fprintln(w, strings.Join(row, "\t")); err != nil {
			return err
		}
	}
	return nil
}
