// Package heads holds the task heads that sit on the encoder's hidden
// states, with the parameter names HuggingFace gives them.
package heads

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/tensor"
)

// MaskedLM is BERT's masked-language-model head (BertOnlyMLMHead): a dense
// layer with the encoder's activation and a LayerNorm (the "transform"),
// then a decoder whose weight is the encoder's word-embedding table (tied,
// as in HuggingFace) plus a bias of its own.
type MaskedLM struct {
	nn.Module
	Dense      *encoder.Linear    // cls.predictions.transform.dense
	LayerNorm  *encoder.LayerNorm // cls.predictions.transform.LayerNorm
	Bias       *nn.Param          // cls.predictions.bias
	Decoder    *nn.Param          // the word embeddings; not a parameter of the head
	Activation kernels.Activation
}

// NewMaskedLM returns an MLM head for m with HuggingFace's initialisation:
// N(0, initializer_range²) dense weight, zero biases, LayerNorm one/zero.
func NewMaskedLM(m *encoder.Model, init func(*nn.Param)) (*MaskedLM, error) {
	c := m.Config
	if c.EmbeddingWidth() != c.HiddenSize {
		return nil, fmt.Errorf("an MLM head with tied embeddings needs embedding width %d = hidden size %d", c.EmbeddingWidth(), c.HiddenSize)
	}
	act, err := kernels.ParseActivation(c.HiddenAct)
	if err != nil {
		return nil, err
	}
	h := &MaskedLM{
		Dense:      encoder.NewLinear(c.HiddenSize, c.HiddenSize),
		LayerNorm:  encoder.NewLayerNorm(c.HiddenSize, c.LayerNormEps),
		Bias:       nn.NewParam(mat.NewDense[float32](mat.WithShape(c.VocabSize, 1))),
		Decoder:    m.Embeddings.WordEmbeddings,
		Activation: act,
	}
	if init != nil {
		init(h.Dense.Weight)
	}
	return h, nil
}

// NamedParams returns the head's own parameters under their HuggingFace
// BertForMaskedLM keys (the tied decoder weight is the encoder's).
func (h *MaskedLM) NamedParams() []encoder.NamedParam {
	H, _ := kernels.Dims(h.Dense.Weight)
	V, _ := kernels.Dims(h.Bias)
	return []encoder.NamedParam{
		{Name: "cls.predictions.transform.dense.weight", Param: h.Dense.Weight, Shape: []int{H, H}},
		{Name: "cls.predictions.transform.dense.bias", Param: h.Dense.Bias, Shape: []int{H}},
		{Name: "cls.predictions.transform.LayerNorm.weight", Param: h.LayerNorm.Weight, Shape: []int{H}},
		{Name: "cls.predictions.transform.LayerNorm.bias", Param: h.LayerNorm.Bias, Shape: []int{H}},
		{Name: "cls.predictions.bias", Param: h.Bias, Shape: []int{V}},
	}
}

// robertaNames maps RoBERTa's LM-head keys to BERT's, so one head reads
// both kinds of checkpoint.
var robertaNames = map[string]string{
	"cls.predictions.transform.dense.weight":     "lm_head.dense.weight",
	"cls.predictions.transform.dense.bias":       "lm_head.dense.bias",
	"cls.predictions.transform.LayerNorm.weight": "lm_head.layer_norm.weight",
	"cls.predictions.transform.LayerNorm.bias":   "lm_head.layer_norm.bias",
	"cls.predictions.bias":                       "lm_head.bias",
}

// LoadMaskedLM builds the MLM head of model m from a checkpoint's tensors
// ts: its cls.predictions.* (BERT) or lm_head.* (RoBERTa) ones.
func LoadMaskedLM(ts map[string]*tensor.Tensor, m *encoder.Model) (*MaskedLM, error) {
	h, err := NewMaskedLM(m, nil)
	if err != nil {
		return nil, err
	}
	for _, np := range h.NamedParams() {
		t, ok := ts[np.Name]
		if !ok {
			t, ok = ts[robertaNames[np.Name]]
		}
		if !ok {
			return nil, fmt.Errorf("no masked-LM head (missing %q)", np.Name)
		}
		if err := t.CopyTo(kernels.Values(np.Param), np.Shape); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", np.Name, err)
		}
	}
	return h, nil
}

// Forward returns the vocabulary logits [len(rows), vocab] of the given
// rows of the hidden states (the masked positions).
func (h *MaskedLM) Forward(states mat.Tensor, rows []int) mat.Tensor {
	x := kernels.GatherRows(states, rows)
	x = kernels.Activate(h.Dense.Forward(x), h.Activation)
	x = h.LayerNorm.Forward(x, nil, kernels.Dropout{})
	return kernels.Linear(x, h.Decoder, h.Bias)
}
