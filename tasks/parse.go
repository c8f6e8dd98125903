package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/onnx/graph"
	"github.com/hiertune/hiertune/tensor"
)

func init() { Register("parse", parseType{}) }

// ParseOptions are the options of a parse task: biaffine dependency
// parsing (the HEAD and DEPREL columns).
type ParseOptions struct {
	// ArcMLP and RelMLP are the sizes of the arc and label MLPs.
	ArcMLP int `yaml:"arc_mlp"`
	RelMLP int `yaml:"rel_mlp"`
	// Decoder is the tree decoder: mst, eisner or greedy.
	Decoder string `yaml:"decoder"`
	// Pooling is how a word's pieces become one vector (heads.PoolModes).
	Pooling string `yaml:"pooling"`
}

type parseType struct{}

func (parseType) Options() any {
	return &ParseOptions{ArcMLP: 256, RelMLP: 128, Decoder: "mst", Pooling: "first"}
}

func (parseType) New(cfg *Config, d Data) (Head, error) {
	o := cfg.Options.(*ParseOptions)
	switch {
	case !d.WordLevel || !d.Has("head") || !d.Has("deprel"):
		return nil, fmt.Errorf("a parse task needs data with HEAD and DEPREL columns (conllu), %s is %s", d.Name, d.Format)
	case !slices.Contains(heads.Decoders, o.Decoder):
		return nil, fmt.Errorf("decoder must be one of %v, got %q", heads.Decoders, o.Decoder)
	}
	if err := checkPooling(o.Pooling); err != nil {
		return nil, err
	}
	if o.ArcMLP < 1 || o.RelMLP < 1 {
		return nil, fmt.Errorf("arc_mlp and rel_mlp must be positive")
	}
	return &parseHead{name: cfg.Name, pooling: o.Pooling, opt: *o}, nil
}

type parseHead struct {
	name, pooling string
	pooler        *heads.WordPooler
	opt           ParseOptions
	parser        *heads.Parser
	index         map[string]int
}

func (h *parseHead) Columns() []string { return []string{"head", "deprel"} }

// GoldHeads returns an example's gold heads (conllu.NoHead for "_").
func GoldHeads(ex *Example) []int {
	col := ex.Gold.Column("head")
	out := make([]int, len(col))
	for i, v := range col {
		h, err := strconv.Atoi(v)
		if err != nil {
			h = conllu.NoHead
		}
		out[i] = h
	}
	return out
}

// Check refuses gold heads that do not form a tree: the parser would learn
// from, or be scored against, impossible structures.
func (h *parseHead) Check(ex *Example) error {
	if err := conllu.IsTree(GoldHeads(ex)); err != nil {
		return fmt.Errorf("the gold heads are not a tree: %w", err)
	}
	return nil
}

func (h *parseHead) Vocabulary(train []*Example) []string {
	return vocabulary(train, func(ex *Example) []string { return ex.Gold.Column("deprel") }, nil)
}

func (h *parseHead) Build(labels []string, hidden int, _ []*Example, rng *rand.Rand) error {
	h.index = labelIndex(labels)
	var err error
	if h.pooler, err = heads.NewWordPooler(h.pooling, hidden, rng); err != nil {
		return err
	}
	h.parser, err = heads.NewParser(hidden, h.opt.ArcMLP, h.opt.RelMLP, labels, h.opt.Decoder, rng)
	return err
}

func (h *parseHead) Params() []encoder.NamedParam {
	return append(h.pooler.NamedParams(), h.parser.NamedParams()...)
}

// parseScores are a parser's scores: computed by the parser, or taken from
// a graph's outputs (then all the label scores are there).
type parseScores struct {
	*heads.Scores
	s         heads.Sentences
	allLabels []float32 // from a graph: [B, W, W, labels]
}

func (h *parseHead) Scores(in *Input, d heads.Dropout) (Scores, error) {
	x, s := in.Slots(h.pooler)
	if in.Graph { // a graph has no lengths: it masks only the diagonal
		for i := range s.Lengths {
			s.Lengths[i] = s.W
		}
	}
	ps := h.parser.Forward(x, s, d)
	if in.PairLogits != nil {
		rows, W := in.Batch.PairRows()
		ps.Arc = kernels.WeightedSum([]mat.Tensor{ps.Arc, in.PairLogits(rows, s.B*W, W)}, []float32{1, 1})
	}
	return &parseScores{Scores: ps, s: s}, nil
}

// gold returns, for every word slot, the gold head and label index, -100
// where there is none.
func (h *parseHead) gold(b *Batch, s heads.Sentences) (arcs, rels []int) {
	arcs, rels = make([]int, s.B*s.W), make([]int, s.B*s.W)
	for i := range arcs {
		arcs[i], rels[i] = -100, -100
	}
	for i, ex := range b.Examples {
		deprels := ex.Gold.Column("deprel")
		for w, head := range GoldHeads(ex) {
			slot := i*s.W + w + 1
			if head >= 0 && head < s.Lengths[i] {
				arcs[slot] = head
			}
			rels[slot] = indices(h.index, deprels[w:w+1])[0]
		}
	}
	return arcs, rels
}

func (h *parseHead) Loss(s Scores, b *Batch) (mat.Tensor, error) {
	ps := s.(*parseScores)
	arcs, rels := h.gold(b, ps.s)
	arc, label, err := h.parser.Loss(ps.Scores, arcs, rels)
	if err != nil {
		return nil, err
	}
	return kernels.WeightedSum([]mat.Tensor{arc, label}, []float32{1, 1}), nil
}

func (h *parseHead) Predict(s Scores, b *Batch) ([]Prediction, error) {
	ps := s.(*parseScores)
	labels := func(deps, govs []int) []float32 { return kernels.Values(ps.Labels(deps, govs)) }
	if ps.allLabels != nil {
		W, L := ps.s.W, len(h.parser.Labels)
		labels = func(deps, govs []int) []float32 {
			var out []float32
			for i, d := range deps {
				r := d*W + govs[i]%W
				out = append(out, ps.allLabels[r*L:(r+1)*L]...)
			}
			return out
		}
	}
	hs, ls, err := h.parser.Predict(kernels.Values(ps.Arc), ps.s, labels)
	if err != nil {
		return nil, err
	}
	out := make([]Prediction, len(b.Examples))
	for i := range b.Examples {
		col := make([]string, len(hs[i])-1)
		for w, head := range hs[i][1:] {
			col[w] = strconv.Itoa(head)
		}
		out[i] = Prediction{"head": col, "deprel": names(h.parser.Labels, ls[i][1:])}
	}
	return out, nil
}

// Targets are the arc scores of every word over the heads of its sentence
// ("TASK.arc"), and the label scores at its gold head ("TASK.rel").
func (h *parseHead) Targets(s Scores, b *Batch) ([]Target, error) {
	ps := s.(*parseScores)
	S := ps.s
	gold, rels := h.gold(b, S)
	var slots, relRows []int
	for i := range b.Examples {
		n := 0
		for slot := i*S.W + 1; slot < i*S.W+S.Lengths[i]; slot++ {
			slots = append(slots, slot)
			if gold[slot] >= 0 && rels[slot] >= 0 {
				n++
			}
		}
		relRows = append(relRows, n)
	}
	arc := Target{Name: h.name + ".arc", Scores: kernels.GatherRows(ps.Arc, slots), Rows: make([]int, len(b.Examples)), Cols: S.Lengths}
	for i := range b.Examples {
		arc.Rows[i] = S.Lengths[i] - 1
	}
	out := []Target{arc}
	if deps, govs := heads.GoldArcs(S, gold, rels); len(deps) > 0 {
		out = append(out, Target{Name: h.name + ".rel", Scores: ps.Labels(deps, govs), Rows: relRows, Cols: same(len(b.Examples), len(h.parser.Labels))})
	}
	return out, nil
}

// ArcOutput names a parse task's arc scores [examples, words, words]:
// dependent i's score for head j, kernels.Masked for j = i.
func ArcOutput(task string) string { return task + ".arc_scores" }

// LabelOutput names a parse task's label scores [examples, words, words,
// labels] for every dependent–head pair.
func LabelOutput(task string) string { return task + ".label_scores" }

func (h *parseHead) Outputs() []string { return []string{ArcOutput(h.name), LabelOutput(h.name)} }

func (h *parseHead) GraphOutputs(s Scores) (map[string]*tensor.Tensor, error) {
	ps := s.(*parseScores)
	E, W := ps.s.B, ps.s.W
	return map[string]*tensor.Tensor{
		ArcOutput(h.name):   tensor.FromFloat32([]int{E, W, W}, kernels.Values(ps.Arc)),
		LabelOutput(h.name): tensor.FromFloat32([]int{E, W, W, len(h.parser.Labels)}, kernels.Values(ps.AllLabels())),
	}, nil
}

func (h *parseHead) FromGraph(outs map[string]*tensor.Tensor, b *Batch) (Scores, error) {
	counts := b.WordCounts()
	s := heads.Sentences{B: len(counts), W: 1}
	for _, n := range counts {
		s.W = max(s.W, n+1)
		s.Lengths = append(s.Lengths, n+1)
	}
	arc, err := graphOutput(outs, ArcOutput(h.name), s.B, s.W, s.W)
	if err != nil {
		return nil, err
	}
	labels, err := graphOutput(outs, LabelOutput(h.name), s.B, s.W, s.W, len(h.parser.Labels))
	if err != nil {
		return nil, err
	}
	return &parseScores{Scores: &heads.Scores{S: s, Arc: kernels.NewMatrix(s.B*s.W, s.W, arc)}, s: s, allLabels: labels}, nil
}

// Export adds the biaffine arc and label scorers (heads.Parser.Forward) on
// the word slots: arc scores [examples, W, W] (dependent, head) with
// self-loops masked — hiertune masks heads beyond each sentence before
// decoding — and label scores [examples, W, W, labels].
func (h *parseHead) Export(in GraphInput) ([]*onnx.ValueInfo, error) {
	words, err := in.Words(h.pooler)
	if err != nil {
		return nil, err
	}
	g, name, p := in.Graph(), in.Name(), h.parser
	mlp := func(part string, l *encoder.Linear) (string, error) {
		y, err := g.Linear(name+"."+part, words, l)
		if err != nil {
			return "", err
		}
		return g.Activate(name+"."+part, y, kernels.LeakyReLU)
	}
	// Both scorers compute [dep; 1]ᵀ U [head; 1]: the dependent side's
	// ones column is U's last row, added as a bias.
	biaffine := func(part string, u *nn.Param, d, width int) (w, b string, err error) {
		v := kernels.Values(u)
		if len(v) != (d+1)*width {
			return "", "", fmt.Errorf("%s.%s has %d values, want %d×%d", name, part, len(v), d+1, width)
		}
		w = g.Floats(name+"."+part+".weight", []int{d, width}, v[:d*width])
		b = g.Floats(name+"."+part+".bias", []int{width}, v[d*width:])
		return w, b, nil
	}
	arcDep, err := mlp("arc_dep", p.ArcDep)
	if err != nil {
		return nil, err
	}
	arcHead, err := mlp("arc_head", p.ArcHead)
	if err != nil {
		return nil, err
	}
	a, _ := kernels.Dims(p.ArcDep.Weight)
	uw, ub, err := biaffine("arc_biaffine", p.ArcU, a, a)
	if err != nil {
		return nil, err
	}
	t := g.Op(name, "Add", []string{g.Op(name, "MatMul", []string{arcDep, uw}), ub})
	arc := g.Op(name, "MatMul", []string{t, g.Transpose(name, arcHead, 0, 2, 1)})
	pl, err := in.PairLogits()
	if err != nil {
		return nil, err
	}
	if pl != "" {
		arc = g.Op(name, "Add", []string{arc, pl})
	}
	// A word is never its own head: mask the diagonal as ArcScores does.
	// Heads beyond a sentence's end are masked in Go, which knows lengths.
	slots := g.Op(name, "Range", []string{g.ScalarInt(0), g.Dim(name, arcHead, 1), g.ScalarInt(1)})
	self := g.Op(name, "Equal", []string{g.Unsqueeze(name, slots, 1), g.Unsqueeze(name, slots, 0)})
	arc = g.Op(name, "Where", []string{self, g.Scalar(kernels.Masked), arc})
	g.Rename(arc, ArcOutput(name))

	relDep, err := mlp("rel_dep", p.RelDep)
	if err != nil {
		return nil, err
	}
	relHead, err := mlp("rel_head", p.RelHead)
	if err != nil {
		return nil, err
	}
	r, _ := kernels.Dims(p.RelDep.Weight)
	L := int64(len(p.Labels))
	e := int64(r + 1)
	rw, rb, err := biaffine("rel_biaffine", p.RelU, r, int(L*e))
	if err != nil {
		return nil, err
	}
	// T[b,i,l,:] = [dep_i; 1]ᵀ U_l; its first r columns meet head_j, the
	// last one meets the head side's ones column.
	t = g.Reshape(name, g.Op(name, "Add", []string{g.Op(name, "MatMul", []string{relDep, rw}), rb}), 0, 0, L, e)
	tk := g.Op(name, "Slice", []string{t, g.Ints(0), g.Ints(e - 1), g.Ints(3)})
	tb := g.Op(name, "Slice", []string{t, g.Ints(e - 1), g.Ints(e), g.Ints(3)})
	sc := g.Op(name, "MatMul", []string{g.Reshape(name, tk, 0, -1, e-1), g.Transpose(name, relHead, 0, 2, 1)})
	sc = g.Op(name, "Add", []string{sc, g.Reshape(name, tb, 0, -1, 1)})
	// [examples, W·L, W] → [examples, W, L, W] → [examples, W, W, L].
	ew := g.Op(name, "Slice", []string{g.Op(name, "Shape", []string{relHead}), g.Ints(0), g.Ints(2), g.Ints(0)})
	shape := g.Op(name, "Concat", []string{ew, g.Ints(L, -1)}, graph.AttrInt("axis", 0))
	label := g.Transpose(name, g.Op(name, "Reshape", []string{sc, shape}), 0, 1, 3, 2)
	g.Rename(label, LabelOutput(name))
	return []*onnx.ValueInfo{
		graph.FloatInfo(ArcOutput(name), graph.Dims("examples", "words", "words")),
		graph.FloatInfo(LabelOutput(name), graph.Dims("examples", "words", "words", int(L))),
	}, nil
}
