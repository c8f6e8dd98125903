package datasets

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/metrics"
	"github.com/hiertune/hiertune/tasks"
)

func init() { Register("conllu", conlluFormat{}) }

// conlluFormat is CoNLL-U (Universal Dependencies): a sentence's words with
// their form, lemma, tags, features, head and relation. Predictions replace
// the predicted columns and keep every other byte of the file; scores are
// those of the CoNLL 2018 shared task for the predicted columns.
type conlluFormat struct{}

// conlluColumns are the columns a CoNLL-U example carries.
var conlluColumns = []string{"form", "lemma", "upos", "xpos", "feats", "head", "deprel"}

func (conlluFormat) Options() any { return nil }

func (conlluFormat) Describe(any) (tasks.Data, error) {
	return tasks.Data{Columns: conlluColumns[1:], WordLevel: true}, nil
}

// sentence is a CoNLL-U example's annotation: the sentence, and for
// writing it back the lines of the file it came from (see sentenceLines).
type sentence struct {
	*conllu.Sentence
	raw *sentenceLines
}

func (s sentence) Column(name string) []string {
	words := s.Words()
	out := make([]string, len(words))
	for i, w := range words {
		switch name {
		case "form":
			out[i] = w.Form
		case "lemma":
			out[i] = w.Lemma
		case "upos":
			out[i] = w.UPOS
		case "xpos":
			out[i] = w.XPOS
		case "feats":
			out[i] = w.Feats
		case "head":
			out[i] = "_"
			if w.Head != conllu.NoHead {
				out[i] = strconv.Itoa(w.Head)
			}
		case "deprel":
			out[i] = w.DepRel
		default:
			return nil
		}
	}
	return out
}

// set writes a predicted column into the sentence's words.
func (s sentence) set(name string, values []string) {
	for i, w := range s.Words() {
		v := values[i]
		switch name {
		case "lemma":
			w.Lemma = v
		case "upos":
			w.UPOS = v
		case "xpos":
			w.XPOS = v
		case "feats":
			w.Feats = v
		case "head":
			w.Head = conllu.NoHead
			if h, err := strconv.Atoi(v); err == nil {
				w.Head = h
			}
		case "deprel":
			w.DepRel = v
		}
	}
}

func (conlluFormat) Read(path string, _ any, _ io.Writer) ([]*tasks.Example, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sents, err := conllu.Read(bytes.NewReader(b), path)
	if err != nil {
		return nil, err
	}
	lines := splitLines(b)
	var exs []*tasks.Example
	next := 0
	for _, s := range sents {
		ex := &tasks.Example{Line: s.Line}
		for _, w := range s.Words() {
			ex.Words = append(ex.Words, w.Form)
		}
		if len(ex.Words) == 0 {
			continue // its lines go with the next sentence's
		}
		first, n := s.Line-1, len(s.Comments)+len(s.Rows)
		raw := &sentenceLines{before: strings.Join(lines[next:first], ""), lines: lines[first : first+n]}
		next = first + n
		ex.Gold = sentence{s, raw}
		exs = append(exs, ex)
	}
	if len(exs) > 0 {
		exs[len(exs)-1].Gold.(sentence).raw.after = strings.Join(lines[next:], "")
	}
	return exs, nil
}

// apply writes the predictions of the tasks, in their order, into the
// examples' sentences: when two tasks predict the same column (a parser
// and a deprel tagger), the later task's values are written.
func apply(into []*conllu.Sentence, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction) {
	for _, t := range ts {
		ps, ok := preds[t]
		if !ok {
			continue
		}
		for i, s := range into {
			for _, col := range t.Head.Columns() {
				sentence{Sentence: s}.set(col, ps[i][col])
			}
		}
	}
}

// sentences returns the examples' CoNLL-U sentences.
func sentences(exs []*tasks.Example) []*conllu.Sentence {
	out := make([]*conllu.Sentence, len(exs))
	for i, ex := range exs {
		out[i] = ex.Gold.(sentence).Sentence
	}
	return out
}

// conlluFields are the 0-based fields of the columns tasks predict.
var conlluFields = map[string]int{"lemma": 2, "upos": 3, "xpos": 4, "feats": 5, "head": 6, "deprel": 7}

// Write writes the file the examples were read from with the predicted
// columns of the tasks' words replaced.
func (conlluFormat) Write(w io.Writer, exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, _ any) error {
	sents := sentences(exs)
	apply(sents, ts, preds)
	predicted := map[int]bool{}
	for _, t := range ts {
		for _, c := range t.Head.Columns() {
			predicted[conlluFields[c]] = true
		}
	}
	bw := bufio.NewWriter(w)
	for i, ex := range exs {
		s, raw := sents[i], ex.Gold.(sentence).raw
		bw.WriteString(raw.before)
		for j, line := range raw.lines {
			r := j - len(s.Comments)
			if r < 0 || s.Rows[r].Kind != conllu.Word {
				bw.WriteString(line)
				continue
			}
			body := strings.TrimRight(line, "\r\n")
			fields := strings.Split(body, "\t")
			row := s.Rows[r]
			head := "_"
			if row.Head != conllu.NoHead {
				head = strconv.Itoa(row.Head)
			}
			for k, v := range []string{2: row.Lemma, 3: row.UPOS, 4: row.XPOS, 5: row.Feats, 6: head, 7: row.DepRel} {
				if !predicted[k] {
					continue
				}
				if v == "" || strings.ContainsAny(v, "\t\r\n") {
					return fmt.Errorf("conllu: writing line %d: %q cannot be written in column %d", s.Line+j, v, k+1)
				}
				fields[k] = v
			}
			bw.WriteString(strings.Join(fields, "\t"))
			bw.WriteString(line[len(body):])
		}
		bw.WriteString(raw.after)
	}
	return bw.Flush()
}

// udMetrics are the metrics of each predicted column.
var udMetrics = map[string][]string{
	"upos": {"upos"}, "xpos": {"xpos"}, "feats": {"ufeats"}, "lemma": {"lemmas"},
	"head": {"uas", "las", "clas", "las_full"}, "deprel": {"deprel"},
}

// Score applies the CoNLL 2018 metrics to the predicted columns; a deprel
// predicted without heads (a tagging task) is scored by its accuracy.
func (conlluFormat) Score(exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, _ any) (map[string]float64, error) {
	keys := map[string]bool{}
	for _, t := range ts {
		if _, ok := preds[t]; !ok {
			continue
		}
		cols := t.Head.Columns()
		for _, c := range cols {
			if c == "deprel" && slices.Contains(cols, "head") {
				continue
			}
			for _, k := range udMetrics[c] {
				keys[k] = true
			}
		}
	}
	var gold, pred [][]metrics.Word
	sents := sentences(exs)
	predicted := make([]*conllu.Sentence, len(sents))
	for i, s := range sents {
		predicted[i] = clone(s)
	}
	apply(predicted, ts, preds)
	for i, s := range sents {
		g, p := udWords(s), udWords(predicted[i])
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
	out := map[string]float64{}
	for k, v := range s.Report() {
		if keys[k] {
			out[k] = v
		}
	}
	if keys["deprel"] {
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

// udWords returns the words of a sentence as the metrics read them.
func udWords(s *conllu.Sentence) []metrics.Word {
	var out []metrics.Word
	for _, w := range s.Words() {
		word := metrics.Word{UPOS: w.UPOS, XPOS: w.XPOS, Feats: w.Feats, Lemma: w.Lemma, Head: w.Head, Deprel: w.DepRel}
		if word.Head < 0 {
			word.Head = metrics.NoHead
		}
		out = append(out, word)
	}
	return out
}

// clone copies a sentence's rows, so that predictions can be written into
// the copy.
func clone(s *conllu.Sentence) *conllu.Sentence {
	c := *s
	c.Rows = slices.Clone(s.Rows)
	return &c
}

func (conlluFormat) MainMetric(columns []string) string {
	for _, c := range []string{"head", "feats", "lemma", "upos", "xpos", "deprel"} {
		if slices.Contains(columns, c) {
			if c == "head" {
				return "las"
			}
			return udMetrics[c][0]
		}
	}
	return ""
}
