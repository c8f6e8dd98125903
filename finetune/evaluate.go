package finetune

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/metrics"
)

// predictions holds, for each task, what it predicted for each example.
type predictions map[*task][]prediction

// predict runs the dataset's tasks on examples, in batches of evalBatch
// ordered by length (the result does not depend on that order).
func (m *Model) predict(d *dataset, exs []*example, evalBatch int, arena *kernels.Arena) (predictions, error) {
	out := predictions{}
	for _, t := range d.tasks {
		out[t] = make([]prediction, len(exs))
	}
	for group, b := range m.inBatches(d, exs, evalBatch) {
		if m.engine != nil {
			ps, err := m.enginePredict(d, b)
			if err != nil {
				return nil, err
			}
			for _, t := range d.tasks {
				for i, e := range group {
					out[t][e] = ps[t][i]
				}
			}
			continue
		}
		res, err := m.Encoder.Forward(b.enc, encoder.Options{Depth: depth(d.tasks), Words: b.words})
		if err != nil {
			return nil, err
		}
		for _, t := range d.tasks {
			ps, err := t.predict(b, t.input(res.HiddenStates))
			if err != nil {
				return nil, fmt.Errorf("task %s: %w", t.cfg.Name, err)
			}
			for i, e := range group {
				out[t][e] = ps[i]
			}
		}
		if arena != nil {
			arena.Reset()
		}
	}
	return out, nil
}

// score computes the dataset's metrics, keyed "dataset.metric".
func (m *Model) score(d *dataset, exs []*example, preds predictions) (map[string]float64, error) {
	var rep map[string]float64
	var err error
	switch d.cfg.Format {
	case "conllu":
		rep, err = scoreUD(d, exs, preds)
	case "conll":
		rep, err = scoreNER(d, exs, preds)
	default:
		rep, err = scoreClassify(d, exs, preds)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", d.name, err)
	}
	out := map[string]float64{}
	for k, v := range rep {
		out[d.name+"."+k] = v
	}
	return out, nil
}

// scoreUD applies the CoNLL 2018 metrics to the annotation the tasks
// predict; the reported keys are those of the predicted columns.
func scoreUD(d *dataset, exs []*example, preds predictions) (map[string]float64, error) {
	var gold, pred [][]metrics.Word
	keys := map[string]bool{}
	for i, ex := range exs {
		var g, p []metrics.Word
		for _, w := range ex.sent.Words() {
			word := metrics.Word{UPOS: w.UPOS, XPOS: w.XPOS, Feats: w.Feats, Lemma: w.Lemma, Head: w.Head, Deprel: w.DepRel}
			if word.Head < 0 {
				word.Head = metrics.NoHead
			}
			g = append(g, word)
			p = append(p, word)
		}
		for t, ps := range preds {
			pr := ps[i]
			for j := range p {
				switch {
				case t.cfg.Type == "parse":
					p[j].Head, p[j].Deprel = pr.heads[j], pr.labels[j]
					keys["uas"], keys["las"], keys["clas"], keys["las_full"] = true, true, true, true
				case t.cfg.Type == "feats" || t.cfg.Column == "feats":
					p[j].Feats = pr.labels[j]
					keys["ufeats"] = true
				case t.cfg.Column == "upos":
					p[j].UPOS = pr.labels[j]
					keys["upos"] = true
				case t.cfg.Column == "xpos":
					p[j].XPOS = pr.labels[j]
					keys["xpos"] = true
				case t.cfg.Column == "lemma":
					p[j].Lemma = pr.labels[j]
					keys["lemmas"] = true
				case t.cfg.Column == "deprel":
					p[j].Deprel = pr.labels[j]
					keys["deprel"] = true
				}
			}
		}
		// A gold tree is needed for the head metrics: words without one
		// (HEAD "_") get head 0 in both, so they count as right and never
		// break the scorer.
		for j := range g {
			if g[j].Head == metrics.NoHead {
				g[j].Head, p[j].Head = 0, 0
			}
		}
		gold, pred = append(gold, g), append(pred, p)
	}
	s, err := metrics.UD(gold, pred)
	if err != nil {
		return nil, err
	}
	keys["alltags"] = keys["upos"] && keys["xpos"] && keys["ufeats"]
	all := s.Report()
	out := map[string]float64{}
	for k, v := range all {
		if keys[k] {
			out[k] = v
		}
	}
	if keys["deprel"] { // a tagging task on DEPREL: its accuracy
		right, n := 0, 0
		for i := range gold {
			for j := range gold[i] {
				n++
				if gold[i][j].Deprel == pred[i][j].Deprel {
					right++
				}
			}
		}
		out["deprel"] = float64(right) / float64(max(n, 1))
	}
	return out, nil
}

// scoreNER gives span precision, recall and F1, strict (seqeval's mode for
// the scheme) and lenient (conlleval's reading) for each tag task.
func scoreNER(d *dataset, exs []*example, preds predictions) (map[string]float64, error) {
	scheme := metrics.IOB2
	if d.cfg.Scheme == "iobes" {
		scheme = metrics.IOBES
	}
	out := map[string]float64{}
	for t, ps := range preds {
		var gold, pred [][]string
		for i, ex := range exs {
			gold, pred = append(gold, ex.tags), append(pred, ps[i].labels)
		}
		strict, err := metrics.Spans(gold, pred, scheme, d.cfg.Scheme != "iob1")
		if err != nil {
			return nil, err
		}
		lenient, err := metrics.Spans(gold, pred, scheme, false)
		if err != nil {
			return nil, err
		}
		prefix := ""
		if len(preds) > 1 {
			prefix = t.cfg.Name + "_"
		}
		for k, v := range strict.Report() {
			out[prefix+k] = v
		}
		out[prefix+"ner_f1_lenient"] = lenient.F1
	}
	return out, nil
}

// scoreClassify gives accuracy, macro-F1 and, for a binary task with a
// label "1", that label's F1.
func scoreClassify(d *dataset, exs []*example, preds predictions) (map[string]float64, error) {
	out := map[string]float64{}
	for t, ps := range preds {
		var gold, pred []string
		for i, ex := range exs {
			gold, pred = append(gold, ex.label), append(pred, ps[i].labels[0])
		}
		positive := ""
		if len(t.labels) == 2 && slices.Contains(t.labels, "1") {
			positive = "1"
		}
		s, err := metrics.Classify(gold, pred, positive)
		if err != nil {
			return nil, err
		}
		prefix := ""
		if len(preds) > 1 {
			prefix = t.cfg.Name + "_"
		}
		for k, v := range s.Report() {
			out[prefix+k] = v
		}
	}
	return out, nil
}

// mainMetric is the metric a task is judged by.
func mainMetric(t TaskConfig, format string) string {
	switch {
	case t.Type == "parse":
		return "las"
	case t.Type == "feats" || t.Column == "feats":
		return "ufeats"
	case t.Type == "classify":
		return "accuracy"
	case format == "conll":
		return "ner_f1"
	case t.Column == "lemma":
		return "lemmas"
	}
	return strings.ToLower(t.Column)
}
