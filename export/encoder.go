package export

import (
	"fmt"
	"math"
	"strconv"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
)

// encoder adds the encoder's first depth layers, with depth mixing and word
// pooling as the model uses them, and records every hidden state.
func (x *exporter) encoder(depth int) error {
	g, enc := x.g, x.m.Encoder
	words := x.m.EncoderWordPooling()
	if words != nil && !x.has(finetune.UnitStart) {
		return fmt.Errorf("word pooling in the encoder without the %s input", finetune.UnitStart)
	}
	var unitStart, unitEnd, unitMask string
	if words != nil {
		// Padding units pool nothing; they are masked, and pool row 0 so
		// that every segment has a row (as encoder.WordPooling does).
		unitMask = g.op("units", "Greater", []string{finetune.UnitEnd, finetune.UnitStart})
		unitStart = g.op("units", "Where", []string{unitMask, finetune.UnitStart, g.scalarInt(0)})
		unitEnd = g.op("units", "Where", []string{unitMask, finetune.UnitEnd, g.scalarInt(1)})
		unitMask = g.cast("units", unitMask, onnx.Int64)
	}
	pool := func(name, h string) (string, error) {
		flat := g.reshape(name, h, -1, int64(enc.Config.HiddenSize))
		var scores string
		if words.Mode == encoder.PoolAttention {
			s, err := g.linear(name+".score", flat, words.Score)
			if err != nil {
				return "", err
			}
			scores = g.reshape(name, s, -1)
		}
		return g.segmentPool(name, flat, unitStart, unitEnd, string(words.Mode), scores)
	}

	var h string
	var err error
	mask := g.additiveMask("mask", finetune.AttentionMask)
	if words != nil && words.After == 0 {
		h, err = x.wordEmbeddings(unitMask, func(e string) (string, error) { return pool("encoder.word_pooling", e) })
		mask = g.additiveMask("units", unitMask)
	} else {
		h, err = x.embeddings()
	}
	if err != nil {
		return err
	}
	if enc.EmbeddingsProject != nil {
		if h, err = g.linear("embeddings_project", h, enc.EmbeddingsProject); err != nil {
			return err
		}
	}
	onUnits := words != nil && words.After == 0
	x.hidden, x.units = []string{h}, []bool{onUnits}
	depthMix := x.m.DepthMixer()
	for i, l := range enc.Layers[:depth] {
		if words != nil && words.After > 0 && i == words.After {
			if h, err = pool("encoder.word_pooling", h); err != nil {
				return err
			}
			mask, onUnits = g.additiveMask("units", unitMask), true
		}
		// As in encoder.Forward, depth mixing stops where words are pooled:
		// the states below are over pieces.
		if depthMix != nil && i+1 >= 2 && (words == nil || words.After == 0 || i < words.After) {
			if h, err = x.depthInput(i+1, depthMix); err != nil {
				return err
			}
		}
		if h, err = x.layer("encoder.layer."+strconv.Itoa(i), h, mask, l); err != nil {
			return err
		}
		x.hidden, x.units = append(x.hidden, h), append(x.units, onUnits)
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
	words := g.op("embeddings", "Gather", []string{word, finetune.InputIDs}, attrInt("axis", 0))
	notPad := g.cast("embeddings", g.op("embeddings", "Not", []string{g.op("embeddings", "Equal", []string{finetune.InputIDs, g.scalarInt(int64(cfg.PadTokenID))})}), onnx.Int64)
	pos, err := x.positions(finetune.InputIDs, notPad)
	if err != nil {
		return "", err
	}
	typ, err := x.table("embeddings.token_type_embeddings.weight", e.TokenTypeEmbeddings)
	if err != nil {
		return "", err
	}
	types := g.op("embeddings", "Gather", []string{typ, finetune.TokenTypeIDs}, attrInt("axis", 0))
	sum := g.op("embeddings", "Add", []string{g.op("embeddings", "Add", []string{words, pos}), types})
	return g.layerNorm("embeddings.LayerNorm", sum, e.LayerNorm)
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
	pieces := g.op("embeddings", "Gather", []string{word, finetune.InputIDs}, attrInt("axis", 0))
	words, err := pool(pieces)
	if err != nil {
		return "", err
	}
	pos, err := x.positions(finetune.UnitStart, unitMask)
	if err != nil {
		return "", err
	}
	typ, err := x.table("embeddings.token_type_embeddings.weight", e.TokenTypeEmbeddings)
	if err != nil {
		return "", err
	}
	types := g.op("embeddings", "Gather", []string{typ, finetune.UnitType}, attrInt("axis", 0))
	return g.layerNorm("embeddings.LayerNorm", g.op("embeddings", "Add", []string{words, g.op("embeddings", "Add", []string{pos, types})}), e.LayerNorm)
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
		pad := g.scalarInt(int64(cfg.PadTokenID))
		counted := g.op("positions", "Mul", []string{g.op("positions", "CumSum", []string{real, g.scalarInt(1)}), real})
		ids = g.op("positions", "Add", []string{counted, pad})
	default:
		ids = g.op("positions", "Range", []string{g.scalarInt(0), g.dim("positions", like, 1), g.scalarInt(1)})
	}
	return g.op("positions", "Gather", []string{table, ids}, attrInt("axis", 0)), nil
}

// table adds an embedding table [rows, width].
func (x *exporter) table(name string, p *nn.Param) (string, error) {
	r, c := kernels.Dims(p)
	return x.g.param(name, p, r, c)
}

// layer adds one transformer block on h [batch, seq, hidden].
func (x *exporter) layer(name, h, mask string, l *encoder.Layer) (string, error) {
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
		y, err := g.linear(name+".attention.self."+part, h, lin)
		if err != nil {
			return "", err
		}
		return g.transpose(name, g.reshape(name, y, 0, 0, heads, hd), perm...), nil
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
	scores := g.op(name, "Mul", []string{g.op(name, "MatMul", []string{q, k}), g.scalar(float32(1 / math.Sqrt(float64(hd))))})
	probs := g.op(name, "Softmax", []string{g.op(name, "Add", []string{scores, mask})}, attrInt("axis", -1))
	ctx := g.reshape(name, g.transpose(name, g.op(name, "MatMul", []string{probs, v}), 0, 2, 1, 3), 0, 0, H)
	a, err := g.linear(name+".attention.output.dense", ctx, l.Attention.Output.Dense)
	if err != nil {
		return "", err
	}
	if a, err = g.layerNorm(name+".attention.output.LayerNorm", g.op(name, "Add", []string{a, h}), l.Attention.Output.LayerNorm); err != nil {
		return "", err
	}
	inter, err := g.linear(name+".intermediate.dense", a, l.Intermediate.Dense)
	if err != nil {
		return "", err
	}
	if inter, err = g.activate(name+".intermediate", inter, l.Intermediate.Activation); err != nil {
		return "", err
	}
	out, err := g.linear(name+".output.dense", inter, l.Output.Dense)
	if err != nil {
		return "", err
	}
	return g.layerNorm(name+".output.LayerNorm", g.op(name, "Add", []string{out, a}), l.Output.LayerNorm)
}
