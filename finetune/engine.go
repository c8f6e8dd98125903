package finetune

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/tensor"
)

// The inputs of a model's exported graph (see GraphInputs), all INT64.
// Rows are encoder windows [batch, seq]; examples are sentences [examples,
// words], where word slot 0 is the sentence's [CLS] (the parser's ROOT),
// slots 1..n its words and further slots padding that repeat slot 0.
const (
	InputIDs      = "input_ids"      // [batch, seq]
	AttentionMask = "attention_mask" // [batch, seq], 1 for tokens
	TokenTypeIDs  = "token_type_ids" // [batch, seq]
	// WordStart and WordEnd give each word slot the pieces [start, end) it
	// pools, as positions in the flattened [batch·seq] pieces.
	WordStart = "word_start" // [examples, words]
	WordEnd   = "word_end"   // [examples, words]
	// UnitStart, UnitEnd and UnitType describe word pooling inside the
	// encoder: each position of the pooled sequence pools the pieces
	// [start, end) of the flattened [batch·seq] pieces (none: padding) and
	// has a token type.
	UnitStart = "unit_start" // [batch, units]
	UnitEnd   = "unit_end"   // [batch, units]
	UnitType  = "unit_type"  // [batch, units]
	// WordUnits gives each word slot its position in the flattened
	// [batch·units] pooled sequence, for tasks above the pooling.
	WordUnits = "word_units" // [examples, words]
)

// LogitsOutput names the output of a tag, feats or classify task: logits
// [examples, words, labels] over word slots, or [batch, labels] for
// classification.
func LogitsOutput(task string) string { return task + ".logits" }

// ArcOutput names a parse task's arc scores [examples, words, words]:
// dependent i's score for head j, kernels.Masked for j = i; hiertune masks
// the heads beyond each sentence before decoding.
func ArcOutput(task string) string { return task + ".arc_scores" }

// LabelOutput names a parse task's label scores [examples, words, words,
// labels] for every dependent–head pair.
func LabelOutput(task string) string { return task + ".label_scores" }

// HiddenOutput names the output holding hidden state n [batch, seq or
// units, hidden].
func HiddenOutput(n int) string { return "hidden_states." + strconv.Itoa(n) }

// ExportTask is a task as an exporter sees it: where it reads the encoder
// and its head's parameters.
type ExportTask struct {
	Name string
	Type string // tag, feats, parse or classify
	// Layer is the hidden state read, unless Mixer mixes several.
	Layer int
	Mixer *adapters.Mixer
	// WordLevel says that the task reads states pooled over words in the
	// encoder (one position per word), not pieces.
	WordLevel bool
	// Pooler pools a word's pieces (not classify); Pooling is a
	// classifier's "cls" or "mean".
	Pooler     *heads.WordPooler
	Pooling    string
	Tagger     *heads.Tagger
	Feats      *heads.Feats
	Parser     *heads.Parser
	Classifier *heads.Classifier
}

// ExportTasks returns the model's tasks in configuration order.
func (m *Model) ExportTasks() []ExportTask {
	out := make([]ExportTask, len(m.tasks))
	for i, t := range m.tasks {
		out[i] = ExportTask{
			Name: t.cfg.Name, Type: t.cfg.Type, Layer: t.layer, Mixer: t.mixer,
			WordLevel: m.wordLevel(t),
			Pooler:    t.pooler, Pooling: t.cfg.Pooling,
			Tagger: t.tagger, Feats: t.feats, Parser: t.parser, Classifier: t.classifier,
		}
	}
	return out
}

// EncoderWordPooling returns the word pooling inside the encoder (nil
// without it): after which hidden state, in which mode, and the attention
// scorer.
func (m *Model) EncoderWordPooling() *encoder.WordPooling {
	p := m.cfg.WordPooling
	if p == nil {
		return nil
	}
	return &encoder.WordPooling{After: p.After, Mode: kernels.PoolMode(p.Mode), Score: m.wordScore}
}

// DepthMixer returns the depth mixing of the encoder's layers, or nil.
func (m *Model) DepthMixer() *adapters.DepthMixer { return m.depth }

// Depth returns the deepest hidden state any task reads.
func (m *Model) Depth() int { return depth(m.tasks) }

// wordLevel reports whether task t reads states pooled in the encoder.
func (m *Model) wordLevel(t *task) bool {
	p := m.cfg.WordPooling
	return p != nil && t.cfg.Type != "classify" && (t.deepest() > p.After || p.After == 0)
}

// GraphInputs returns the inputs the exported graph of the model takes:
// the encoder's three, the word slots when a task reads pieces as words,
// the pooled sequence when words are pooled in the encoder, and the word
// slots' units when a task reads it.
func (m *Model) GraphInputs() []string {
	in := []string{InputIDs, AttentionMask, TokenTypeIDs}
	var pieces, units bool
	for _, t := range m.tasks {
		switch {
		case t.cfg.Type == "classify":
		case m.wordLevel(t):
			units = true
		default:
			pieces = true
		}
	}
	if pieces {
		in = append(in, WordStart, WordEnd)
	}
	if m.cfg.WordPooling != nil {
		in = append(in, UnitStart, UnitEnd, UnitType)
		if units {
			in = append(in, WordUnits)
		}
	}
	return in
}

// taskOutputs returns the names of a task's outputs.
func taskOutputs(t *task) []string {
	if t.cfg.Type == "parse" {
		return []string{ArcOutput(t.cfg.Name), LabelOutput(t.cfg.Name)}
	}
	return []string{LogitsOutput(t.cfg.Name)}
}

// Engine computes the outputs of a model's exported graph (an ONNX Runtime
// session, say) in place of hiertune's own encoder and heads.
type Engine interface {
	// Run returns the named outputs for the named inputs.
	Run(inputs map[string]*tensor.Tensor, outputs []string) (map[string]*tensor.Tensor, error)
}

// SetEngine makes Predict and Evaluate take the heads' scores from e and
// only decode them in Go; nil restores the Go encoder.
func (m *Model) SetEngine(e Engine) { m.engine = e }

// slots returns the word slots of a batch's examples: per example the
// [start, end) rows of slot 0 ([CLS]) and of each word in the flattened
// pieces (or, with units, in the sequence pooled in the encoder), padded to
// the longest example with slot 0.
func slots(b *batch, units bool) (W int, starts, ends []int64) {
	wordStarts, wordEnds, cls := b.starts, b.ends, make([]int, len(b.exs))
	for i := range b.exs {
		cls[i] = b.rowOf[i] * b.enc.Seq
	}
	if units {
		wordStarts, wordEnds = nil, nil
		for i, us := range b.unitOf {
			s, e := make([]int, len(us)), make([]int, len(us))
			for j, u := range us {
				s[j], e[j] = u, u+1
			}
			wordStarts, wordEnds = append(wordStarts, s), append(wordEnds, e)
			cls[i] = b.rowOf[i] * b.words.Seq
		}
	}
	W = 1
	for _, s := range wordStarts {
		W = max(W, len(s)+1)
	}
	for i := range b.exs {
		var n int
		if i < len(wordStarts) {
			n = len(wordStarts[i])
		}
		for slot := 0; slot < W; slot++ {
			if slot == 0 || slot > n {
				starts, ends = append(starts, int64(cls[i])), append(ends, int64(cls[i]+1))
			} else {
				starts, ends = append(starts, int64(wordStarts[i][slot-1])), append(ends, int64(wordEnds[i][slot-1]))
			}
		}
	}
	return W, starts, ends
}

// feeds returns the graph inputs for a batch of dataset d.
func (m *Model) feeds(d *dataset, b *batch) (map[string]*tensor.Tensor, error) {
	rows, seq := b.enc.Size, b.enc.Seq
	ids, types := make([]int64, rows*seq), make([]int64, rows*seq)
	for i := range ids {
		ids[i], types[i] = int64(b.enc.InputIDs[i]), int64(b.enc.TokenTypeIDs[i])
	}
	out := map[string]*tensor.Tensor{
		InputIDs:      tensor.FromInt64([]int{rows, seq}, ids),
		AttentionMask: tensor.FromInt64([]int{rows, seq}, b.enc.AttentionMask),
		TokenTypeIDs:  tensor.FromInt64([]int{rows, seq}, types),
	}
	want := m.GraphInputs()
	if slices.Contains(want, WordStart) {
		W, s, e := slots(b, false)
		out[WordStart], out[WordEnd] = tensor.FromInt64([]int{len(b.exs), W}, s), tensor.FromInt64([]int{len(b.exs), W}, e)
	}
	if slices.Contains(want, UnitStart) {
		w := b.words
		if w == nil {
			return nil, fmt.Errorf("dataset %s: the graph pools words in the encoder, which %s data is not", d.name, d.cfg.Format)
		}
		n := w.Size * w.Seq
		s, e, ty := make([]int64, n), make([]int64, n), make([]int64, n)
		for i := range s {
			s[i], e[i], ty[i] = int64(w.Starts[i]), int64(w.Ends[i]), int64(w.Types[i])
		}
		shape := []int{w.Size, w.Seq}
		out[UnitStart], out[UnitEnd], out[UnitType] = tensor.FromInt64(shape, s), tensor.FromInt64(shape, e), tensor.FromInt64(shape, ty)
	}
	if slices.Contains(want, WordUnits) {
		W, s, _ := slots(b, true)
		out[WordUnits] = tensor.FromInt64([]int{len(b.exs), W}, s)
	}
	return out, nil
}

// goOutputs computes the named graph outputs of a batch with hiertune's
// encoder and heads, in the graph's layout, with arc scores masked beyond
// each sentence unless asGraph (the graph cannot: it has no lengths).
func (m *Model) goOutputs(d *dataset, b *batch, names []string, asGraph bool) (map[string]*tensor.Tensor, error) {
	deepest := depth(d.tasks)
	for _, name := range names {
		var n int
		if _, err := fmt.Sscanf(name, "hidden_states.%d", &n); err == nil {
			deepest = max(deepest, n)
		}
	}
	res, err := m.Encoder.Forward(b.enc, encoder.Options{Depth: max(deepest, 1), Words: b.words})
	if err != nil {
		return nil, err
	}
	out := map[string]*tensor.Tensor{}
	for n, h := range res.HiddenStates {
		if !slices.Contains(names, HiddenOutput(n)) {
			continue
		}
		rows, seq := b.enc.Size, b.enc.Seq
		if b.words != nil && (n > b.words.After || b.words.After == 0) {
			rows, seq = b.words.Size, b.words.Seq
		}
		out[HiddenOutput(n)] = tensor.FromFloat32([]int{rows, seq, m.Encoder.Config.HiddenSize}, kernels.Values(h))
	}
	E := len(b.exs)
	for _, t := range d.tasks {
		states := t.input(res.HiddenStates)
		switch t.cfg.Type {
		case "classify":
			rows := b.enc.Size
			out[LogitsOutput(t.cfg.Name)] = tensor.FromFloat32([]int{rows, len(t.labels)}, kernels.Values(t.classifier.Out.Forward(m.allSentences(t, b, states))))
		case "parse":
			words, s := t.parseSlots(b, states)
			if asGraph {
				for i := range s.Lengths {
					s.Lengths[i] = s.W
				}
			}
			arc, label := t.parser.Scores(words, s)
			out[ArcOutput(t.cfg.Name)] = tensor.FromFloat32([]int{E, s.W, s.W}, kernels.Values(arc))
			out[LabelOutput(t.cfg.Name)] = tensor.FromFloat32([]int{E, s.W, s.W, len(t.labels)}, kernels.Values(label))
		default:
			words, s := t.parseSlots(b, states)
			var logits mat.Tensor
			if t.tagger != nil {
				logits = t.tagger.Logits(words, kernels.Dropout{})
			} else {
				logits = t.feats.Out.Forward(words)
			}
			out[LogitsOutput(t.cfg.Name)] = tensor.FromFloat32([]int{E, s.W, len(t.labels)}, kernels.Values(logits))
		}
	}
	return out, nil
}

// allSentences returns the sentence vector of every row of a
// classification batch (one window per example), as sentences does.
func (m *Model) allSentences(t *task, b *batch, states mat.Tensor) mat.Tensor {
	seq := b.enc.Seq
	starts, ends := make([]int, b.enc.Size), make([]int, b.enc.Size)
	for r := range starts {
		starts[r], ends[r] = r*seq, r*seq+1
		if t.cfg.Pooling == "mean" {
			n := 0
			for _, a := range b.enc.AttentionMask[r*seq : (r+1)*seq] {
				if a != 0 {
					n++
				}
			}
			ends[r] = r*seq + max(n, 1)
		}
	}
	mode := kernels.PoolFirst
	if t.cfg.Pooling == "mean" {
		mode = kernels.PoolMean
	}
	return kernels.SegmentPool(states, starts, ends, mode)
}

// engineOutputs runs the engine on a batch and checks the shapes of the
// task outputs it returns against the batch.
func (m *Model) engineOutputs(d *dataset, b *batch, names []string) (map[string]*tensor.Tensor, error) {
	feeds, err := m.feeds(d, b)
	if err != nil {
		return nil, err
	}
	got, err := m.engine.Run(feeds, names)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if got[name] == nil {
			return nil, fmt.Errorf("the engine returned no output %q", name)
		}
	}
	E, W := len(b.exs), 1
	for _, k := range []string{WordStart, WordUnits} {
		if f := feeds[k]; f != nil {
			W = f.Shape[1]
		}
	}
	for _, t := range d.tasks {
		K := len(t.labels)
		want := map[string][]int{}
		switch t.cfg.Type {
		case "classify":
			want[LogitsOutput(t.cfg.Name)] = []int{b.enc.Size, K}
		case "parse":
			want[ArcOutput(t.cfg.Name)] = []int{E, W, W}
			want[LabelOutput(t.cfg.Name)] = []int{E, W, W, K}
		default:
			want[LogitsOutput(t.cfg.Name)] = []int{E, W, K}
		}
		for name, shape := range want {
			o := got[name]
			if o == nil {
				continue
			}
			if o.DType != tensor.F32 || !slices.Equal(o.Shape, shape) {
				return nil, fmt.Errorf("task %s: output %q is %s%v, want F32%v", t.cfg.Name, name, o.DType, o.Shape, shape)
			}
			if t.cfg.Type == "parse" && name == ArcOutput(t.cfg.Name) {
				v, _ := o.Float32()
				maskArcs(v, E, W, b)
				got[name] = tensor.FromFloat32(shape, v)
			}
		}
	}
	return got, nil
}

// maskArcs gives impossible heads — beyond the sentence, or the word
// itself — the score kernels.ArcScores gives them.
func maskArcs(v []float32, E, W int, b *batch) {
	for e := 0; e < E; e++ {
		n := len(b.exs[e].wordSeg) + 1
		for i := 0; i < W; i++ {
			for j := 0; j < W; j++ {
				if j >= n || j == i {
					v[(e*W+i)*W+j] = kernels.Masked
				}
			}
		}
	}
}

// enginePredict decodes the predictions of dataset d's tasks for a batch
// from the engine's scores.
func (m *Model) enginePredict(d *dataset, b *batch) (predictions, error) {
	var names []string
	for _, t := range d.tasks {
		names = append(names, taskOutputs(t)...)
	}
	got, err := m.engineOutputs(d, b, names)
	if err != nil {
		return nil, err
	}
	out := predictions{}
	for _, t := range d.tasks {
		ps := make([]prediction, len(b.exs))
		if err := t.decode(b, got, ps); err != nil {
			return nil, fmt.Errorf("task %s: %w", t.cfg.Name, err)
		}
		out[t] = ps
	}
	return out, nil
}

// decode fills the task's predictions for a batch from the graph's
// outputs, whose shapes engineOutputs checked.
func (t *task) decode(b *batch, got map[string]*tensor.Tensor, out []prediction) error {
	if t.cfg.Type == "classify" {
		o := got[LogitsOutput(t.cfg.Name)]
		v, _ := o.Float32()
		K := o.Shape[1]
		for i := range b.exs {
			r := b.rowOf[i]
			out[i].labels = []string{t.labels[t.classifier.Decode(v[r*K : (r+1)*K])[0]]}
		}
		return nil
	}
	var counts []int
	for _, ex := range b.exs {
		counts = append(counts, len(ex.wordSeg))
	}
	if t.cfg.Type == "parse" {
		arc, label := got[ArcOutput(t.cfg.Name)], got[LabelOutput(t.cfg.Name)]
		W, L := arc.Shape[1], label.Shape[3]
		s := heads.Sentences{B: len(b.exs), W: W}
		for _, n := range counts {
			s.Lengths = append(s.Lengths, n+1)
		}
		av, _ := arc.Float32()
		hs, err := t.parser.DecodeHeads(av, s)
		if err != nil {
			return err
		}
		lv, _ := label.Float32()
		var chosen []float32
		for e, h := range hs {
			for i := 1; i < len(h); i++ {
				r := (e*W+i)*W + h[i]
				chosen = append(chosen, lv[r*L:(r+1)*L]...)
			}
		}
		ls, err := t.parser.DecodeLabels(hs, chosen)
		if err != nil {
			return err
		}
		for i := range b.exs {
			out[i].heads, out[i].labels = hs[i][1:], t.names(ls[i][1:])
		}
		return nil
	}
	o := got[LogitsOutput(t.cfg.Name)]
	v, _ := o.Float32()
	W, K := o.Shape[1], o.Shape[2]
	var words []float32
	for e, n := range counts {
		words = append(words, v[(e*W+1)*K:(e*W+1+n)*K]...)
	}
	if t.feats != nil {
		feats := t.feats.Decode(words)
		at := 0
		for i, n := range counts {
			out[i].labels = feats[at : at+n]
			at += n
		}
		return nil
	}
	idx, err := t.tagger.Decode(words, counts)
	if err != nil {
		return err
	}
	at := 0
	for i, n := range counts {
		out[i].labels = t.names(idx[at : at+n])
		at += n
	}
	return nil
}

// CompareEngine runs the tasks of the named dataset (or the only one) on
// the file at path with both hiertune's engine and e, and returns, for
// each of the given graph outputs that belongs to those tasks or is a
// hidden state, the largest absolute difference between the two. Arc
// scores are compared after masking, as decoding sees them.
func (m *Model) CompareEngine(e Engine, outputs []string, datasetName, path string, batchSize int, log io.Writer) (map[string]float64, error) {
	d, err := m.datasetFor(datasetName)
	if err != nil {
		return nil, err
	}
	exs, _, err := d.readInput(path, m.tok, m.maxLen, m.stride, log)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range d.tasks {
		for _, name := range taskOutputs(t) {
			if slices.Contains(outputs, name) {
				names = append(names, name)
			}
		}
	}
	for _, name := range outputs {
		var n int
		if _, err := fmt.Sscanf(name, "hidden_states.%d", &n); err == nil && name == HiddenOutput(n) {
			names = append(names, name)
		}
	}
	if batchSize <= 0 {
		batchSize = m.cfg.Eval.BatchSize
	}
	saved := m.engine
	defer m.SetEngine(saved)
	m.SetEngine(e)
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	diff := map[string]float64{}
	for _, b := range m.inBatches(d, exs, batchSize) {
		want, err := m.goOutputs(d, b, names, false)
		if err != nil {
			return nil, err
		}
		got, err := m.engineOutputs(d, b, names)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			dd, err := maxAbsDiff(want[name], got[name])
			if err != nil {
				return nil, fmt.Errorf("output %q: %w", name, err)
			}
			diff[name] = max(diff[name], dd)
		}
		arena.Reset()
	}
	return diff, nil
}

// maxAbsDiff returns the largest absolute difference between two F32
// tensors of one shape.
func maxAbsDiff(a, b *tensor.Tensor) (float64, error) {
	if a == nil || b == nil {
		return 0, fmt.Errorf("missing")
	}
	if !slices.Equal(a.Shape, b.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", b.Shape, a.Shape)
	}
	av, err := a.Float32()
	if err != nil {
		return 0, err
	}
	bv, err := b.Float32()
	if err != nil {
		return 0, err
	}
	var d float64
	for i := range av {
		x := math.Abs(float64(av[i]) - float64(bv[i]))
		if math.IsNaN(x) {
			return math.Inf(1), nil
		}
		d = max(d, x)
	}
	return d, nil
}

// SampleFile returns the dev file of the named dataset (or the only one),
// as sample input for checks.
func (m *Model) SampleFile(datasetName string) (string, error) {
	d, err := m.datasetFor(datasetName)
	if err != nil {
		return "", err
	}
	if d.cfg.Dev == "" {
		return "", fmt.Errorf("dataset %s has no dev file: give one", d.name)
	}
	return d.cfg.Dev, nil
}

// GraphOutputs returns the outputs the exported graph of the model must
// have for its tasks: their scores, in task order.
func (m *Model) GraphOutputs() []string {
	var out []string
	for _, t := range m.tasks {
		out = append(out, taskOutputs(t)...)
	}
	return out
}

// Speed measures inference on the named dataset's file (or the only
// one's) in batches of batchSize: the tokens per second (real pieces) of
// hiertune's encoder and heads and of e, each computing the scores of the
// dataset's tasks (no decoding) over the whole file, best of rounds.
func (m *Model) Speed(e Engine, datasetName, path string, batchSize, rounds int) (goTokens, engineTokens float64, err error) {
	d, err := m.datasetFor(datasetName)
	if err != nil {
		return 0, 0, err
	}
	exs, _, err := d.readInput(path, m.tok, m.maxLen, m.stride, io.Discard)
	if err != nil {
		return 0, 0, err
	}
	if batchSize <= 0 {
		batchSize = m.cfg.Eval.BatchSize
	}
	var names []string
	for _, t := range d.tasks {
		names = append(names, taskOutputs(t)...)
	}
	var batches []*batch
	tokens := 0
	for _, b := range m.inBatches(d, exs, batchSize) {
		batches = append(batches, b)
		tokens += b.tokens
	}
	saved := m.engine
	defer m.SetEngine(saved)
	m.SetEngine(e)
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	best := func(run func(*batch) error) (float64, error) {
		var fastest time.Duration
		for r := 0; r < max(rounds, 1); r++ {
			start := time.Now()
			for _, b := range batches {
				if err := run(b); err != nil {
					return 0, err
				}
				arena.Reset()
			}
			if el := time.Since(start); r == 0 || el < fastest {
				fastest = el
			}
		}
		return float64(tokens) / fastest.Seconds(), nil
	}
	if goTokens, err = best(func(b *batch) error { _, err := m.goOutputs(d, b, names, false); return err }); err != nil {
		return 0, 0, err
	}
	engineTokens, err = best(func(b *batch) error { _, err := m.engineOutputs(d, b, names); return err })
	return goTokens, engineTokens, err
}

// SampleIO returns the graph inputs of the first batch of the named
// dataset's file (or the only one's) and hiertune's values of the named
// graph outputs for it, arc scores masked as the graph masks them: a
// reference for checking the graph with other tools.
func (m *Model) SampleIO(datasetName, path string, batchSize int, outputs []string) (map[string]*tensor.Tensor, error) {
	d, err := m.datasetFor(datasetName)
	if err != nil {
		return nil, err
	}
	exs, _, err := d.readInput(path, m.tok, m.maxLen, m.stride, io.Discard)
	if err != nil {
		return nil, err
	}
	if batchSize <= 0 {
		batchSize = m.cfg.Eval.BatchSize
	}
	b := m.batch(d, exs[:min(batchSize, len(exs))])
	ts, err := m.feeds(d, b)
	if err != nil {
		return nil, err
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	outs, err := m.goOutputs(d, b, outputs, true)
	if err != nil {
		return nil, err
	}
	for k, v := range outs {
		ts[k] = v
	}
	return ts, nil
}
