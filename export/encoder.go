package export

import (
	"fmt"
	"math"
	"strconv"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/onnx/graph"
)

// encoder adds the encoder's first depth layers, with depth mixing and word
// pooling as the model uses them, and records every hidden state.
func (x *exporter) encoder(depth int) error {
	g, enc := x.g, x.m.Encoder
	words := x.m.EncoderWordPooling()
	if words != nil && !x.has(UnitStart) {
		return fmt.Errorf("word pooling in the encoder without the %s input", UnitStart)
	}
	var unitStart, unitEnd, unitMask string
	if words != nil {
		// Padding units pool nothing; they are masked, and pool row 0 so
		// that every segment has a row (as encoder.WordPooling does).
		unitMask = g.Op("units", "Greater", []string{UnitEnd, UnitStart})
		unitStart = g.Op("units", "Where", []string{unitMask, UnitStart, g.ScalarInt(0)})
		unitEnd = g.Op("units", "Where", []string{unitMask, UnitEnd, g.ScalarInt(1)})
		unitMask = g.Cast("units", unitMask, onnx.Int64)
	}
	pool := func(name, h string) (string, error) {
		flat := g.Reshape(name, h, -1, int64(enc.Config.HiddenSize))
		var scores string
		if words.Mode == encoder.PoolAttention {
			s, err := g.Linear(name+".score", flat, words.Score)
			if err != nil {
				return "", err
			}
			scores = g.Reshape(name, s, -1)
		}
		return g.SegmentPool(name, flat, unitStart, unitEnd, string(words.Mode), scores)
	}

	var h string
	var err error
	mask := g.AdditiveMask("mask", AttentionMask)
	if words != nil && words.After == 0 {
		h, err = x.wordEmbeddings(unitMask, func(e string) (string, error) { return pool("encoder.word_pooling", e) })
		mask = g.AdditiveMask("units", unitMask)
	} else {
		h, err = x.embeddings()
	}
	if err != nil {
		return err
	}
	if enc.EmbeddingsProject != nil {
		if h, err = g.Linear("embeddings_project", h, enc.EmbeddingsProject); err != nil {
			return err
		}
	}
	onUnits := words != nil && words.After == 0
	x.hidden, x.units = []string{h}, []bool{onUnits}
	var pairs string
	if x.m.Pairs() != nil {
		if pairs, err = x.pairStart(); err != nil {
			return err
		}
		x.pairs = []string{pairs}
	}
	depthMix := x.m.DepthMixer()
	for i, l := range enc.Layers[:depth] {
		if words != nil && words.After > 0 && i == words.After {
			if h, err = pool("encoder.word_pooling", h); err != nil {
				return err
			}
			mask, onUnits = g.AdditiveMask("units", unitMask), true
		}
		// As in encoder.Forward, depth mixing stops where words are pooled:
		// the states below are over pieces.
		if depthMix != nil && i+1 >= 2 && (words == nil || words.After == 0 || i < words.After) {
			if h, err = x.depthInput(i+1, depthMix); err != nil {
				return err
			}
		}
		var bias string
		if pairs != "" {
			if bias, err = x.pairBias(i+1, pairs); err != nil {
				return err
			}
		}
		if h, err = x.layer("encoder.layer."+strconv.Itoa(i), h, mask, bias, l); err != nil {
			return err
		}
		x.hidden, x.units = append(x.hidden, h), append(x.units, onUnits)
		if pairs != "" {
			if pairs, err = x.pairUpdate(i+1, pairs, h); err != nil {
				return err
			}
			x.pairs = append(x.pairs, pairs)
		}
	}
	return nil
}

// embeddings returns LayerNorm(word + position + token type) over pieces.
func (x *exporter) embeddings() (string, error) {
	g, e, cfg := x.g, x.m.Encoder.Embeddings, x.m.Encoder.Config
	word, err := x.table("embeddings.word_embeddings.weight", e.WordEmbeddings)
	if err != nil {
		return "", err
	}
	words := g.Op("embeddings", "Gather", []string{word, InputIDs}, graph.AttrInt("axis", 0))
	notPad := g.Cast("embeddings", g.Op("embeddings", "Not", []string{g.Op("embeddings", "Equal", []string{InputIDs, g.ScalarInt(int64(cfg.PadTokenID))})}), onnx.Int64)
	typ, err := x.table("embeddings.token_type_embeddings.weight", e.TokenTypeEmbeddings)
	if err != nil {
		return "", err
	}
	types := g.Op("embeddings", "Gather", []string{typ, TokenTypeIDs}, graph.AttrInt("axis", 0))
	sum := g.Op("embeddings", "Add", []string{words, types})
	if p := x.m.Pairs(); p == nil || !p.Config.NoPositions {
		pos, err := x.positions(InputIDs, notPad)
		if err != nil {
			return "", err
		}
		sum = g.Op("embeddings", "Add", []string{sum, pos})
	}
	return g.LayerNorm("embeddings.LayerNorm", sum, e.LayerNorm)
}

// wordEmbeddings returns the embedding output over words, for word pooling
// before the first layer: LayerNorm(pooled piece embeddings + position (of
// the word) + token type), as encoder.Forward computes it.
func (x *exporter) wordEmbeddings(unitMask string, pool func(string) (string, error)) (string, error) {
	g, e := x.g, x.m.Encoder.Embeddings
	word, err := x.table("embeddings.word_embeddings.weight", e.WordEmbeddings)
	if err != nil {
		return "", err
	}
	pieces := g.Op("embeddings", "Gather", []string{word, InputIDs}, graph.AttrInt("axis", 0))
	words, err := pool(pieces)
	if err != nil {
		return "", err
	}
	pos, err := x.positions(UnitStart, unitMask)
	if err != nil {
		return "", err
	}
	typ, err := x.table("embeddings.token_type_embeddings.weight", e.TokenTypeEmbeddings)
	if err != nil {
		return "", err
	}
	types := g.Op("embeddings", "Gather", []string{typ, UnitType}, graph.AttrInt("axis", 0))
	return g.LayerNorm("embeddings.LayerNorm", g.Op("embeddings", "Add", []string{words, g.Op("embeddings", "Add", []string{pos, types})}), e.LayerNorm)
}

// positions returns the position embeddings of the [batch, seq] sequence
// whose shape like has, numbered as encoder.positionIDs does: 0, 1, 2, …
// for BERT; for RoBERTa-style models pad+1, pad+2, … over the positions
// where real (0/1 INT64) is 1, and pad elsewhere.
func (x *exporter) positions(like, real string) (string, error) {
	g, e, cfg := x.g, x.m.Encoder.Embeddings, x.m.Encoder.Config
	table, err := x.table("embeddings.position_embeddings.weight", e.PositionEmbeddings)
	if err != nil {
		return "", err
	}
	var ids string
	switch cfg.ModelType {
	case "roberta", "xlm-roberta", "camembert": // encoder.Config.positionsFromPadding
		pad := g.ScalarInt(int64(cfg.PadTokenID))
		counted := g.Op("positions", "Mul", []string{g.Op("positions", "CumSum", []string{real, g.ScalarInt(1)}), real})
		ids = g.Op("positions", "Add", []string{counted, pad})
	default:
		ids = g.Op("positions", "Range", []string{g.ScalarInt(0), g.Dim("positions", like, 1), g.ScalarInt(1)})
	}
	return g.Op("positions", "Gather", []string{table, ids}, graph.AttrInt("axis", 0)), nil
}

// table adds an embedding table [rows, width].
func (x *exporter) table(name string, p *nn.Param) (string, error) {
	r, c := kernels.Dims(p)
	return x.g.Param(name, p, r, c)
}

// layer adds one transformer block on h [batch, seq, hidden]; bias, when
// not "", is added to the attention logits [batch, heads, seq, seq].
func (x *exporter) layer(name, h, mask, bias string, l *encoder.Layer) (string, error) {
	g := x.g
	cfg := x.m.Encoder.Config
	heads := int64(l.Attention.Self.NumHeads)
	H := int64(cfg.HiddenSize)
	if heads <= 0 || H%heads != 0 {
		return "", fmt.Errorf("%s: %d heads for hidden size %d", name, heads, H)
	}
	hd := H / heads
	self := l.Attention.Self
	proj := func(part string, lin *encoder.Linear, perm ...int64) (string, error) {
		y, err := g.Linear(name+".attention.self."+part, h, lin)
		if err != nil {
			return "", err
		}
		return g.Transpose(name, g.Reshape(name, y, 0, 0, heads, hd), perm...), nil
	}
	q, err := proj("query", self.Query, 0, 2, 1, 3)
	if err != nil {
		return "", err
	}
	k, err := proj("key", self.Key, 0, 2, 3, 1)
	if err != nil {
		return "", err
	}
	v, err := proj("value", self.Value, 0, 2, 1, 3)
	if err != nil {
		return "", err
	}
	scores := g.Op(name, "Mul", []string{g.Op(name, "MatMul", []string{q, k}), g.Scalar(float32(1 / math.Sqrt(float64(hd))))})
	logits := g.Op(name, "Add", []string{scores, mask})
	if bias != "" {
		logits = g.Op(name, "Add", []string{logits, bias})
	}
	probs := g.Op(name, "Softmax", []string{logits}, graph.AttrInt("axis", -1))
	ctx := g.Reshape(name, g.Transpose(name, g.Op(name, "MatMul", []string{probs, v}), 0, 2, 1, 3), 0, 0, H)
	a, err := g.Linear(name+".attention.output.dense", ctx, l.Attention.Output.Dense)
	if err != nil {
		return "", err
	}
	if a, err = g.LayerNorm(name+".attention.output.LayerNorm", g.Op(name, "Add", []string{a, h}), l.Attention.Output.LayerNorm); err != nil {
		return "", err
	}
	inter, err := g.Linear(name+".intermediate.dense", a, l.Intermediate.Dense)
	if err != nil {
		return "", err
	}
	if inter, err = g.Activate(name+".intermediate", inter, l.Intermediate.Activation); err != nil {
		return "", err
	}
	out, err := g.Linear(name+".output.dense", inter, l.Output.Dense)
	if err != nil {
		return "", err
	}
	return g.LayerNorm(name+".output.LayerNorm", g.Op(name, "Add", []string{out, a}), l.Output.LayerNorm)
}
