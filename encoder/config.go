package encoder

import (
	"fmt"
	"math"

	"github.com/hiertune/hiertune/kernels"
)

// Config is the architecture of a BERT-family encoder, with the meaning of
// the HuggingFace config.json fields of the same names (the loader reads and
// writes that file).
type Config struct {
	// ModelType is "bert", "roberta", "xlm-roberta", "camembert" or
	// "electra". RoBERTa-style types number positions from PadTokenID+1
	// and skip padding, as HuggingFace's RobertaEmbeddings does.
	ModelType                 string
	VocabSize                 int
	HiddenSize                int
	EmbeddingSize             int // ELECTRA's embedding width; 0 means HiddenSize
	NumHiddenLayers           int
	NumAttentionHeads         int
	IntermediateSize          int
	HiddenAct                 string
	HiddenDropoutProb         float64
	AttentionProbsDropoutProb float64
	MaxPositionEmbeddings     int
	TypeVocabSize             int
	LayerNormEps              float64
	PadTokenID                int
	InitializerRange          float64
}

// ModelTypes lists the model_type values the encoder implements.
var ModelTypes = []string{"bert", "roberta", "xlm-roberta", "camembert", "electra"}

// Validate reports the first field that makes c unusable, by its
// config.json key. It does not bound the sizes: see CheckSize.
func (c *Config) Validate() error {
	known := false
	for _, t := range ModelTypes {
		known = known || t == c.ModelType
	}
	if !known {
		return fmt.Errorf("unknown model_type %q (supported: %v)", c.ModelType, ModelTypes)
	}
	positive := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"type_vocab_size", c.TypeVocabSize},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("%s must be positive, got %d", p.name, p.v)
		}
	}
	if c.EmbeddingSize < 0 {
		return fmt.Errorf("embedding_size must not be negative, got %d", c.EmbeddingSize)
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if _, err := kernels.ParseActivation(c.HiddenAct); err != nil {
		return fmt.Errorf("hidden_act: %w", err)
	}
	// The comparisons are written so that NaN fails them.
	for _, p := range []struct {
		name string
		v    float64
	}{{"hidden_dropout_prob", c.HiddenDropoutProb}, {"attention_probs_dropout_prob", c.AttentionProbsDropoutProb}} {
		if !(p.v >= 0 && p.v < 1) {
			return fmt.Errorf("%s must be in [0, 1), got %g", p.name, p.v)
		}
	}
	// LayerNorm computes in float32: eps must be a positive float32.
	if eps := float32(c.LayerNormEps); !(eps > 0 && eps <= math.MaxFloat32) {
		return fmt.Errorf("layer_norm_eps must be a positive float32 (%.2g to %.2g), got %g", math.SmallestNonzeroFloat32, math.MaxFloat32, c.LayerNormEps)
	}
	if !(c.InitializerRange >= 0 && c.InitializerRange <= math.MaxFloat64) {
		return fmt.Errorf("initializer_range must be finite and not negative, got %g", c.InitializerRange)
	}
	if c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize {
		return fmt.Errorf("pad_token_id %d is outside the vocabulary of %d", c.PadTokenID, c.VocabSize)
	}
	if c.positionsFromPadding() && c.PadTokenID+1 >= c.MaxPositionEmbeddings {
		return fmt.Errorf("%s numbers positions from pad_token_id+1 = %d, beyond max_position_embeddings %d", c.ModelType, c.PadTokenID+1, c.MaxPositionEmbeddings)
	}
	return nil
}

// EmbeddingWidth returns the width of the embedding tables.
func (c *Config) EmbeddingWidth() int {
	if c.EmbeddingSize > 0 {
		return c.EmbeddingSize
	}
	return c.HiddenSize
}

// MaxSequenceLength returns the longest sequence the position table allows:
// RoBERTa-style models lose PadTokenID+1 positions to their numbering.
func (c *Config) MaxSequenceLength() int {
	if c.positionsFromPadding() {
		return c.MaxPositionEmbeddings - c.PadTokenID - 1
	}
	return c.MaxPositionEmbeddings
}

// positionsFromPadding reports whether positions are numbered like RoBERTa's.
func (c *Config) positionsFromPadding() bool {
	switch c.ModelType {
	case "roberta", "xlm-roberta", "camembert":
		return true
	}
	return false
}
