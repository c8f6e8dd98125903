package export

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/export/ort"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/tasks"
	"github.com/hiertune/hiertune/tensor"
)

// The inputs of a model's exported graph (see Inputs), all INT64. Rows
// are encoder windows [batch, seq]; examples are sentences [examples,
// words], where word slot 0 is the sentence's [CLS] (the parser's ROOT),
// slots 1..n its words and further slots padding that repeat slot 0 (see
// tasks.Batch.WordSlots).
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

// HiddenOutput names the output holding hidden state n [batch, seq or
// units, hidden].
func HiddenOutput(n int) string { return "hidden_states." + strconv.Itoa(n) }

// hiddenIndex returns n when name is HiddenOutput(n).
func hiddenIndex(name string) (int, bool) {
	var n int
	_, err := fmt.Sscanf(name, "hidden_states.%d", &n)
	return n, err == nil && name == HiddenOutput(n)
}

// readsUnits reports whether task t reads states pooled over words in m's
// encoder rather than pieces.
func readsUnits(m *model.Model, t *tasks.Task) bool {
	return t.Data.WordLevel && m.EncoderWordPooling().Pooled(t.Deepest())
}

// Inputs returns the inputs the exported graph of m takes: the encoder's
// three, the word slots when a task reads pieces as words, the pooled
// sequence when words are pooled in the encoder, and the word slots' units
// when a task reads it.
func Inputs(m *model.Model) []string {
	in := []string{InputIDs, AttentionMask, TokenTypeIDs}
	var pieces, units bool
	for _, t := range m.Tasks {
		switch {
		case !t.Data.WordLevel:
		case readsUnits(m, t):
			units = true
		default:
			pieces = true
		}
	}
	if pieces {
		in = append(in, WordStart, WordEnd)
	}
	if p := m.Pairs(); p != nil {
		in = append(in, PairRelations)
		if p.Parser != nil && slices.ContainsFunc(m.Tasks, func(t *tasks.Task) bool { return t.Config.Type == "parse" }) {
			in = append(in, PairRows)
		}
	}
	if m.Config.WordPooling != nil {
		in = append(in, UnitStart, UnitEnd, UnitType)
		if units {
			in = append(in, WordUnits)
		}
	}
	return in
}

// Outputs returns the outputs the exported graph of m must have for its
// tasks: their scores, in task order.
func Outputs(m *model.Model) []string {
	var out []string
	for _, t := range m.Tasks {
		out = append(out, t.Head.Outputs()...)
	}
	return out
}

// int64s converts positions to a [rows, cols] INT64 tensor.
func int64s(rows, cols int, v []int) *tensor.Tensor {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return tensor.FromInt64([]int{rows, cols}, out)
}

// Feeds returns the graph inputs of m for a batch of dataset d.
func Feeds(m *model.Model, d *datasets.Dataset, b *tasks.Batch) (map[string]*tensor.Tensor, error) {
	rows, seq := b.Enc.Size, b.Enc.Seq
	out := map[string]*tensor.Tensor{
		InputIDs:      int64s(rows, seq, b.Enc.InputIDs),
		AttentionMask: tensor.FromInt64([]int{rows, seq}, b.Enc.AttentionMask),
		TokenTypeIDs:  int64s(rows, seq, b.Enc.TokenTypeIDs),
	}
	want := Inputs(m)
	E := len(b.Examples)
	if slices.Contains(want, WordStart) {
		W, s, e := b.WordSlots(false)
		out[WordStart], out[WordEnd] = int64s(E, W, s), int64s(E, W, e)
	}
	if slices.Contains(want, PairRelations) {
		rel := m.Pairs().Config.Relations(rows, seq, b.Enc.InputIDs, b.Enc.AttentionMask, m.Tok.Specials().SEP)
		out[PairRelations] = int64s(rows, seq*seq, rel)
	}
	if slices.Contains(want, PairRows) {
		pr, W := b.PairRows()
		out[PairRows] = int64s(E, W*W, pr)
	}
	if slices.Contains(want, UnitStart) {
		w := b.Words
		if w == nil {
			return nil, fmt.Errorf("dataset %s: the graph pools words in the encoder, which %s data is not", d.Name, d.Config.Format)
		}
		out[UnitStart], out[UnitEnd], out[UnitType] = int64s(w.Size, w.Seq, w.Starts), int64s(w.Size, w.Seq, w.Ends), int64s(w.Size, w.Seq, w.Types)
	}
	if slices.Contains(want, WordUnits) {
		W, s, _ := b.WordSlots(true)
		out[WordUnits] = int64s(E, W, s)
	}
	return out, nil
}

// CheckGraph reports the first way a graph's declared inputs and outputs
// do not fit model m: an input m does not feed or one it feeds that is
// missing, an input that is not INT64, or a task output that is missing
// or not FLOAT. It lets a wrong model file fail before any data is read.
func CheckGraph(m *model.Model, inputs, outputs []ort.Value) error {
	feeds := Inputs(m)
	for _, in := range inputs {
		if !slices.Contains(feeds, in.Name) {
			return fmt.Errorf("the graph takes input %s, which this run does not provide (it provides %v)", in, feeds)
		}
		if in.Type != onnx.Int64 {
			return fmt.Errorf("the graph takes input %s; hiertune feeds INT64", in)
		}
		if in.Dims != nil && len(in.Dims) != 2 {
			return fmt.Errorf("the graph takes input %s; hiertune feeds rank 2", in)
		}
	}
	for _, name := range feeds {
		if !slices.ContainsFunc(inputs, func(v ort.Value) bool { return v.Name == name }) {
			return fmt.Errorf("the graph has no input %q, which this run needs (was it exported from another run?)", name)
		}
	}
	for _, name := range Outputs(m) {
		i := slices.IndexFunc(outputs, func(v ort.Value) bool { return v.Name == name })
		if i < 0 {
			return fmt.Errorf("the graph has no output %q (was it exported from another run?)", name)
		}
		if outputs[i].Type != onnx.Float {
			return fmt.Errorf("the graph's output %s is not FLOAT", outputs[i])
		}
	}
	return nil
}
