package probing

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/hiertune/hiertune/metrics"
	"github.com/hiertune/hiertune/tasks"
)

// Kind is what a probe predicts.
type Kind int

const (
	// WordLabel is one label per word (UPOS, features, relations, NER tags).
	WordLabel Kind = iota
	// Arc is each word's head: another word of its sentence, or the root.
	Arc
	// SentenceLabel is one label per example (sentence classification).
	SentenceLabel
)

// Task is a probing task: one gold column of a dataset.
type Task struct {
	// Column is the gold column read ("upos", "feats", "deprel", "head",
	// "tag", "label"...); "head" makes an arc task.
	Column string
	Kind   Kind
	// Scheme, for NER tags, scores spans with it (metrics.IOB2 or IOBES)
	// instead of word accuracy; 0 otherwise.
	Scheme metrics.Scheme
	// Labels are the labels of the training examples, sorted (none for
	// arcs).
	Labels []string
	// dist is each label's count in the training examples, for drawing
	// control labels from the same distribution.
	dist []int
}

// NewTask makes the task of column for data of the given kind, with the
// label set of the training examples.
func NewTask(column string, data tasks.Data, train []*tasks.Example) (*Task, error) {
	if !data.Has(column) {
		return nil, fmt.Errorf("%s data has no column %q (it has %s)", data.Format, column, strings.Join(data.Columns, ", "))
	}
	t := &Task{Column: column, Kind: WordLabel}
	switch {
	case column == "head":
		t.Kind = Arc
		return t, nil
	case !data.WordLevel:
		t.Kind = SentenceLabel
	}
	switch data.Scheme {
	case "iob1", "iob2":
		t.Scheme = metrics.IOB2
	case "iobes":
		t.Scheme = metrics.IOBES
	}
	count := map[string]int{}
	for _, ex := range train {
		for _, v := range ex.Gold.Column(column) {
			count[v]++
		}
	}
	if len(count) == 0 {
		return nil, fmt.Errorf("column %q: no labels in the training examples", column)
	}
	for v := range count {
		t.Labels = append(t.Labels, v)
	}
	slices.Sort(t.Labels)
	for _, v := range t.Labels {
		t.dist = append(t.dist, count[v])
	}
	return t, nil
}

// Name is the task's name in reports: its column.
func (t *Task) Name() string { return t.Column }

// unknown marks a target that cannot be predicted (a label never seen in
// training, a word without a head): ignored in training, wrong in scoring.
const unknown = -1

// Targets returns the gold targets of examples: for label tasks the index
// of each word's (or example's) label in Labels, for arcs each word's head
// (0 the root, i the i-th word), unknown where there is none.
func (t *Task) Targets(exs []*tasks.Example) []int {
	var out []int
	for _, ex := range exs {
		if t.Kind == Arc {
			for _, h := range tasks.GoldHeads(ex) {
				if h < 0 || h > len(ex.Words) {
					h = unknown
				}
				out = append(out, h)
			}
			continue
		}
		for _, v := range ex.Gold.Column(t.Column) {
			i, ok := slices.BinarySearch(t.Labels, v)
			if !ok {
				i = unknown
			}
			out = append(out, i)
		}
	}
	return out
}

// Control returns the targets of the control task of Hewitt & Liang
// (2019) for examples: each word type gets one label drawn at random from
// the training distribution of labels, whatever its context, so a probe
// can only do well on it by memorising types. For arcs, each type gets one
// of three behaviours: attach to the sentence's first word, to its last
// word, or to the root (Hewitt & Liang's third is to itself; the arc
// scores, as the parser's, have no self-loops, so it is the root here, as
// is a first or last word asked to attach to itself). Sentence labels are
// drawn per text. The draws depend only on the type and seed: train and
// dev examples share them.
func (t *Task) Control(exs []*tasks.Example, seed uint64) []int {
	draw := func(key string, n int, weights []int) int {
		h := fnv64(key)
		rng := rand.New(rand.NewPCG(seed, h))
		if weights == nil {
			return rng.IntN(n)
		}
		total := 0
		for _, w := range weights {
			total += w
		}
		r := rng.IntN(total)
		for i, w := range weights {
			if r < w {
				return i
			}
			r -= w
		}
		return len(weights) - 1
	}
	var out []int
	for _, ex := range exs {
		switch t.Kind {
		case SentenceLabel:
			out = append(out, draw(ex.Text+"\t"+ex.Pair+"\t"+strings.Join(ex.Words, " "), len(t.Labels), t.dist))
		case Arc:
			n := len(ex.Words)
			for i, w := range ex.Words {
				head := 0
				switch draw(w, 3, nil) {
				case 0:
					head = 1
				case 1:
					head = n
				}
				if head == i+1 {
					head = 0
				}
				out = append(out, head)
			}
		default:
			for _, w := range ex.Words {
				out = append(out, draw(w, len(t.Labels), t.dist))
			}
		}
	}
	return out
}

// Metric names the score of the task: "uas", "span_f1" or "accuracy".
func (t *Task) Metric() string {
	switch {
	case t.Kind == Arc:
		return "uas"
	case t.Scheme != 0:
		return "span_f1"
	}
	return "accuracy"
}

// score compares predicted and gold targets of examples (counts: words per
// example, or nil for sentence tasks) by the task's metric, in percent.
func (t *Task) score(pred, gold []int, counts []int) (float64, error) {
	if t.Scheme == 0 {
		right := 0
		for i, g := range gold {
			if g != unknown && pred[i] == g {
				right++
			}
		}
		return 100 * float64(right) / float64(max(1, len(gold))), nil
	}
	label := func(i int) string {
		if i == unknown {
			return "O"
		}
		return t.Labels[i]
	}
	var gs, ps [][]string
	at := 0
	for _, n := range counts {
		var g, p []string
		for i := at; i < at+n; i++ {
			g, p = append(g, label(gold[i])), append(p, label(pred[i]))
		}
		gs, ps, at = append(gs, g), append(ps, p), at+n
	}
	s, err := metrics.Spans(gs, ps, t.Scheme, false)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.Column, err)
	}
	return 100 * s.F1, nil
}

// fnv64 is FNV-1a of s.
func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// ParseTasks splits a comma-separated list of columns.
func ParseTasks(list string) []string {
	var out []string
	for _, c := range strings.Split(list, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}
