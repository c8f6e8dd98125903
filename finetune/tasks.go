package finetune

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/heads/decode"
	"github.com/hiertune/hiertune/kernels"
)

// task is a configured task with its head and label vocabulary.
type task struct {
	cfg       TaskConfig
	layer     int // absolute hidden-state index
	numLayers int
	ds        *dataset
	labels    []string
	index     map[string]int

	mixer      *adapters.Mixer // nil: the task reads hidden state layer
	pooler     *heads.WordPooler
	tagger     *heads.Tagger
	feats      *heads.Feats
	parser     *heads.Parser
	classifier *heads.Classifier
}

// TaskInfo is what a checkpoint records of a task to rebuild its head
// without the training data: its configuration and its label vocabulary.
type TaskInfo struct {
	Config TaskConfig `json:"config"`
	Labels []string   `json:"labels"`
}

// resolveLayer turns a task's layer (negative from the top) into a hidden
// state index in 0..L.
func resolveLayer(l, layers int, name string) (int, error) {
	abs := l
	if l < 0 {
		abs = layers + 1 + l
	}
	if abs < 0 || abs > layers {
		return 0, fmt.Errorf("task %s: layer %d does not exist in a %d-layer encoder (0..%d, or -1..-%d)", name, l, layers, layers, layers+1)
	}
	return abs, nil
}

// goldLabels returns the label strings of a task on an example: one per
// word, or one for a classification example.
func (t *task) goldLabels(ex *example) []string {
	switch {
	case t.cfg.Type == "classify":
		return []string{ex.label}
	case ex.sent == nil: // NER tags
		return ex.tags
	}
	words := ex.sent.Words()
	out := make([]string, len(words))
	for i, w := range words {
		switch {
		case t.cfg.Type == "feats":
			out[i] = w.Feats
		case t.cfg.Type == "parse":
			out[i] = w.DepRel
		default:
			out[i] = column(w, t.cfg.Column)
		}
	}
	return out
}

func column(w *conllu.Row, name string) string {
	switch name {
	case "upos":
		return w.UPOS
	case "xpos":
		return w.XPOS
	case "feats":
		return w.Feats
	case "lemma":
		return w.Lemma
	}
	return w.DepRel
}

// vocabulary collects a task's labels from the training examples: the
// sorted label strings, or for a feats task the Feature=Value pairs.
func (t *task) vocabulary(train []*example) []string {
	set := map[string]bool{}
	for _, ex := range train {
		for _, l := range t.goldLabels(ex) {
			if t.cfg.Type == "feats" {
				if l != "_" && l != "" {
					for _, p := range strings.Split(l, "|") {
						set[p] = true
					}
				}
			} else if l != "" {
				set[l] = true
			}
		}
	}
	labels := make([]string, 0, len(set))
	for l := range set {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	return labels
}

// build makes the task's head for its labels.
func (t *task) build(hidden int, scheme string, rng *rand.Rand) error {
	t.index = map[string]int{}
	for i, l := range t.labels {
		t.index[l] = i
	}
	if len(t.labels) == 0 {
		return fmt.Errorf("task %s: no labels in the training data", t.cfg.Name)
	}
	var err error
	if t.cfg.Mix.Mode != "" {
		if t.mixer, err = adapters.NewMixer(t.cfg.Mix, t.numLayers, hidden, rng); err != nil {
			return fmt.Errorf("task %s: %w", t.cfg.Name, err)
		}
	}
	if t.cfg.Type != "classify" {
		if t.pooler, err = heads.NewWordPooler(t.cfg.Pooling, hidden, rng); err != nil {
			return fmt.Errorf("task %s: %w", t.cfg.Name, err)
		}
	}
	switch t.cfg.Type {
	case "tag":
		t.tagger = heads.NewTagger(hidden, t.labels, t.cfg.CRF, rng)
		if t.cfg.CRF && (scheme == "iob2" || scheme == "iobes") {
			if t.tagger.Allowed, err = constraints(t.labels, scheme); err != nil {
				return fmt.Errorf("task %s: %w", t.cfg.Name, err)
			}
		}
	case "feats":
		t.feats = heads.NewFeats(hidden, t.labels, rng)
		t.feats.SetPriors(t.pairFrequencies())
	case "parse":
		if t.parser, err = heads.NewParser(hidden, t.cfg.ArcMLP, t.cfg.RelMLP, t.labels, t.cfg.Decoder, rng); err != nil {
			return fmt.Errorf("task %s: %w", t.cfg.Name, err)
		}
	case "classify":
		t.classifier = heads.NewClassifier(hidden, t.labels, rng)
	}
	return nil
}

func constraints(labels []string, scheme string) (*decode.Constraints, error) {
	if scheme == "iobes" {
		return decode.IOBESConstraints(labels)
	}
	return decode.IOB2Constraints(labels)
}

// pairFrequencies returns the share of training words that have each of
// a feats task's Feature=Value pairs.
func (t *task) pairFrequencies() []float64 {
	freq := make([]float64, len(t.labels))
	words := 0
	for _, ex := range t.ds.train {
		for _, f := range t.goldLabels(ex) {
			words++
			for i, v := range t.feats.Targets(f) {
				freq[i] += float64(v)
			}
		}
	}
	for i := range freq {
		freq[i] /= float64(max(words, 1))
	}
	return freq
}

// head returns the task's head.
func (t *task) head() heads.Head {
	switch {
	case t.tagger != nil:
		return t.tagger
	case t.feats != nil:
		return t.feats
	case t.parser != nil:
		return t.parser
	}
	return t.classifier
}

// NamedParams returns the parameters of the task's pooler and head, named
// "TASK.…".
func (t *task) NamedParams() []encoder.NamedParam {
	var ps []encoder.NamedParam
	if t.mixer != nil {
		ps = append(ps, t.mixer.NamedParams()...)
	}
	if t.pooler != nil {
		ps = append(ps, t.pooler.NamedParams()...)
	}
	ps = append(ps, t.head().NamedParams()...)
	for i := range ps {
		ps[i].Name = t.cfg.Name + "." + ps[i].Name
	}
	return ps
}

// deepest returns the deepest hidden state the task reads.
func (t *task) deepest() int {
	if t.mixer != nil {
		return t.mixer.Deepest()
	}
	return t.layer
}

// input returns the states the task reads from the hidden states of a
// forward pass: its layer, or its mix of layers.
func (t *task) input(hidden []mat.Tensor) mat.Tensor {
	if t.mixer != nil {
		out, _ := t.mixer.Forward(hidden)
		return out
	}
	return hidden[t.layer]
}

// wordLevel reports whether the states the task reads are over words: the
// batch pools words in the encoder before the task's layer.
func (t *task) wordLevel(b *batch) bool {
	return b.words != nil && (t.deepest() > b.words.After || b.words.After == 0)
}

// segments returns, for each example, the rows of its words in the states
// the task reads ([start, end) ranges of pieces, or single word positions
// when the encoder pooled words), and the row of the example's [CLS].
func (t *task) segments(b *batch) (starts, ends [][]int, cls []int) {
	if !t.wordLevel(b) {
		for i := range b.exs {
			cls = append(cls, b.rowOf[i]*b.enc.Seq)
		}
		return b.starts, b.ends, cls
	}
	for i, units := range b.unitOf {
		s, e := make([]int, len(units)), make([]int, len(units))
		for j, u := range units {
			s[j], e[j] = u, u+1
		}
		starts, ends = append(starts, s), append(ends, e)
		cls = append(cls, b.rowOf[i]*b.words.Seq)
	}
	return starts, ends, cls
}

// words returns the pooled word vectors of a batch at the task's layer,
// with the number of words per example.
func (t *task) words(b *batch, states mat.Tensor) (mat.Tensor, []int) {
	starts, ends, _ := t.segments(b)
	var all, allEnds, counts []int
	for i := range starts {
		all, allEnds, counts = append(all, starts[i]...), append(allEnds, ends[i]...), append(counts, len(starts[i]))
	}
	return t.pooler.Forward(states, all, allEnds), counts
}

// sentences returns one vector per example: its [CLS] state or the mean of
// its tokens (first window).
func (t *task) sentences(b *batch, states mat.Tensor) mat.Tensor {
	seq := b.enc.Seq
	starts, ends := make([]int, len(b.exs)), make([]int, len(b.exs))
	for i, ex := range b.exs {
		row := b.rowOf[i] * seq
		starts[i], ends[i] = row, row+1
		if t.cfg.Pooling == "mean" {
			ends[i] = row + len(ex.windows[0].ids)
		}
	}
	mode := kernels.PoolFirst
	if t.cfg.Pooling == "mean" {
		mode = kernels.PoolMean
	}
	return kernels.SegmentPool(states, starts, ends, mode)
}

// parseSlots lays a batch's words out for the parser: sentence b in slots
// b·W..b·W+W-1, slot 0 being its [CLS] state (ROOT). It returns the word
// vectors [B·W, hidden] and the layout.
func (t *task) parseSlots(b *batch, states mat.Tensor) (mat.Tensor, heads.Sentences) {
	wordStarts, wordEnds, cls := t.segments(b)
	W := 0
	for _, s := range wordStarts {
		W = max(W, len(s)+1)
	}
	s := heads.Sentences{B: len(b.exs), W: W}
	var starts, ends []int
	for i := range b.exs {
		n := len(wordStarts[i])
		s.Lengths = append(s.Lengths, n+1)
		for slot := 0; slot < W; slot++ {
			switch {
			case slot == 0 || slot > n: // ROOT, or padding (masked out)
				starts, ends = append(starts, cls[i]), append(ends, cls[i]+1)
			default:
				starts, ends = append(starts, wordStarts[i][slot-1]), append(ends, wordEnds[i][slot-1])
			}
		}
	}
	return t.pooler.Forward(states, starts, ends), s
}

// loss returns the task's loss on a batch from the hidden states of its
// layer.
func (t *task) loss(b *batch, states mat.Tensor, d heads.Dropout) (mat.Tensor, error) {
	switch t.cfg.Type {
	case "tag":
		words, counts := t.words(b, states)
		var gold []int
		for _, ex := range b.exs {
			gold = append(gold, t.indices(t.goldLabels(ex))...)
		}
		return t.tagger.Loss(words, gold, counts, d())
	case "feats":
		words, _ := t.words(b, states)
		var targets []float32
		var keep []bool
		for _, ex := range b.exs {
			for _, f := range t.goldLabels(ex) {
				targets = append(targets, t.feats.Targets(f)...)
				keep = append(keep, true)
			}
		}
		return t.feats.Loss(words, targets, keep, d()), nil
	case "parse":
		words, s := t.parseSlots(b, states)
		heads, rels := make([]int, s.B*s.W), make([]int, s.B*s.W)
		for i := range heads {
			heads[i], rels[i] = -100, -100
		}
		for i, ex := range b.exs {
			for w, row := range ex.sent.Words() {
				slot := i*s.W + w + 1
				if row.Head >= 0 && row.Head < s.Lengths[i] {
					heads[slot] = row.Head
				}
				rels[slot] = t.indexOf(row.DepRel)
			}
		}
		arc, label, err := t.parser.Loss(words, s, heads, rels, d)
		if err != nil {
			return nil, err
		}
		return kernels.WeightedSum([]mat.Tensor{arc, label}, []float32{1, 1}), nil
	}
	var gold []int
	for _, ex := range b.exs {
		gold = append(gold, t.indexOf(ex.label))
	}
	return t.classifier.Loss(t.sentences(b, states), gold, d())
}

func (t *task) indexOf(label string) int {
	if i, ok := t.index[label]; ok {
		return i
	}
	return -100 // a label unseen in training: no loss
}

func (t *task) indices(labels []string) []int {
	out := make([]int, len(labels))
	for i, l := range labels {
		out[i] = t.indexOf(l)
	}
	return out
}

// prediction is what a task predicts for one example.
type prediction struct {
	labels []string // per word, or one label
	heads  []int    // parse: per word
}

// predict returns the task's predictions for a batch.
func (t *task) predict(b *batch, states mat.Tensor) ([]prediction, error) {
	out := make([]prediction, len(b.exs))
	switch t.cfg.Type {
	case "tag":
		words, counts := t.words(b, states)
		idx, err := t.tagger.Predict(words, counts)
		if err != nil {
			return nil, err
		}
		at := 0
		for i, n := range counts {
			out[i].labels = t.names(idx[at : at+n])
			at += n
		}
	case "feats":
		words, counts := t.words(b, states)
		feats := t.feats.Predict(words)
		at := 0
		for i, n := range counts {
			out[i].labels = feats[at : at+n]
			at += n
		}
	case "parse":
		words, s := t.parseSlots(b, states)
		hs, ls, err := t.parser.Predict(words, s)
		if err != nil {
			return nil, err
		}
		for i := range b.exs {
			out[i].heads = hs[i][1:]
			out[i].labels = t.names(ls[i][1:])
		}
	case "classify":
		for i, c := range t.classifier.Predict(t.sentences(b, states)) {
			out[i].labels = []string{t.labels[c]}
		}
	}
	return out, nil
}

func (t *task) names(idx []int) []string {
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = t.labels[k]
	}
	return out
}
