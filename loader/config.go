package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"

	"github.com/hiertune/hiertune/encoder"
)

// configFields are the config.json fields the encoder uses, with the
// defaults of HuggingFace's BertConfig; per-type defaults follow below.
type configFields struct {
	ModelType                 string
	Architectures             []string
	VocabSize                 *int
	HiddenSize                *int
	EmbeddingSize             *int
	NumHiddenLayers           *int
	NumAttentionHeads         *int
	IntermediateSize          *int
	HiddenAct                 *string
	HiddenDropoutProb         *float64
	AttentionProbsDropoutProb *float64
	MaxPositionEmbeddings     *int
	TypeVocabSize             *int
	LayerNormEps              *float64
	PadTokenID                *int
	InitializerRange          *float64
	PositionEmbeddingType     *string
}

// decode sets f from the fields of raw. A value of the wrong type is an
// error naming its key; a missing or null field is left unset.
func (f *configFields) decode(raw map[string]json.RawMessage) error {
	var modelType *string
	var architectures *[]string
	for _, err := range []error{
		field(raw, "model_type", &modelType), field(raw, "architectures", &architectures),
		field(raw, "vocab_size", &f.VocabSize), field(raw, "hidden_size", &f.HiddenSize),
		field(raw, "embedding_size", &f.EmbeddingSize), field(raw, "num_hidden_layers", &f.NumHiddenLayers),
		field(raw, "num_attention_heads", &f.NumAttentionHeads), field(raw, "intermediate_size", &f.IntermediateSize),
		field(raw, "hidden_act", &f.HiddenAct), field(raw, "hidden_dropout_prob", &f.HiddenDropoutProb),
		field(raw, "attention_probs_dropout_prob", &f.AttentionProbsDropoutProb),
		field(raw, "max_position_embeddings", &f.MaxPositionEmbeddings), field(raw, "type_vocab_size", &f.TypeVocabSize),
		field(raw, "layer_norm_eps", &f.LayerNormEps), field(raw, "pad_token_id", &f.PadTokenID),
		field(raw, "initializer_range", &f.InitializerRange), field(raw, "position_embedding_type", &f.PositionEmbeddingType),
	} {
		if err != nil {
			return err
		}
	}
	f.ModelType, f.Architectures = or(modelType, ""), or(architectures, nil)
	return nil
}

// field decodes raw[key] into a new *dst unless it is missing or null.
func field[T any](raw map[string]json.RawMessage, key string, dst **T) error {
	msg, ok := raw[key]
	if !ok || string(msg) == "null" {
		return nil
	}
	v := new(T)
	if err := json.Unmarshal(msg, v); err != nil {
		var want string
		switch any(v).(type) {
		case *int:
			if _, ok := new(big.Int).SetString(string(msg), 10); ok {
				return fmt.Errorf("%s: %s is out of range", key, msg)
			}
			want = "an integer"
		case *float64:
			want = "a number"
		case *string:
			want = "a string"
		default:
			want = "a list of strings"
		}
		return fmt.Errorf("%s: want %s, got %s", key, want, describeJSON(msg))
	}
	*dst = v
	return nil
}

// describeJSON returns a JSON value for an error message: a short scalar as
// it is written, anything else by its kind.
func describeJSON(msg json.RawMessage) string {
	switch msg[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	}
	if r := []rune(string(msg)); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return string(msg)
}

// typeDefaults are the defaults of each model type's HuggingFace config
// class, used for fields a config.json leaves out.
var typeDefaults = map[string]encoder.Config{
	"bert":        {VocabSize: 30522, PadTokenID: 0},
	"roberta":     {VocabSize: 50265, PadTokenID: 1},
	"xlm-roberta": {VocabSize: 30522, PadTokenID: 1},
	"camembert":   {VocabSize: 30522, PadTokenID: 1},
	"electra":     {VocabSize: 30522, PadTokenID: 0, HiddenSize: 256, EmbeddingSize: 128, NumAttentionHeads: 4, IntermediateSize: 1024},
}

// architecturePrefixes infer a missing model_type from "architectures", as
// old checkpoints (e.g. Google's BERT conversions) have no model_type.
var architecturePrefixes = []struct{ prefix, modelType string }{
	{"XLMRoberta", "xlm-roberta"}, {"Camembert", "camembert"}, {"Roberta", "roberta"},
	{"Electra", "electra"}, {"Bert", "bert"},
}

// ParseConfig reads a HuggingFace config.json. Fields the encoder does not
// use are kept in the returned raw map (so the file can be written back
// whole) but otherwise ignored, as HuggingFace does; a model_type the encoder
// does not implement, or a relative position embedding, is an error.
func ParseConfig(data []byte) (encoder.Config, map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
		return encoder.Config{}, nil, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			line, col := position(data, syntax.Offset)
			return encoder.Config{}, nil, fmt.Errorf("not a JSON object: line %d, column %d: %v", line, col, syntax)
		}
		return encoder.Config{}, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var f configFields
	if err := f.decode(raw); err != nil {
		return encoder.Config{}, nil, err
	}
	if f.ModelType == "" {
		f.ModelType = "bert"
		for _, a := range f.Architectures {
			for _, p := range architecturePrefixes {
				if strings.HasPrefix(a, p.prefix) {
					f.ModelType = p.modelType
					break
				}
			}
			break
		}
	}
	def, ok := typeDefaults[f.ModelType]
	if !ok {
		return encoder.Config{}, nil, fmt.Errorf("unknown model_type %q: hiertune implements %s (DistilBERT, ALBERT, DeBERTa and others have a different layout)",
			f.ModelType, strings.Join(encoder.ModelTypes, ", "))
	}
	if f.PositionEmbeddingType != nil && *f.PositionEmbeddingType != "absolute" {
		return encoder.Config{}, nil, fmt.Errorf("position_embedding_type %q is not supported (only \"absolute\")", *f.PositionEmbeddingType)
	}
	c := encoder.Config{
		ModelType:                 f.ModelType,
		VocabSize:                 or(f.VocabSize, def.VocabSize),
		HiddenSize:                or(f.HiddenSize, orInt(def.HiddenSize, 768)),
		NumHiddenLayers:           or(f.NumHiddenLayers, 12),
		NumAttentionHeads:         or(f.NumAttentionHeads, orInt(def.NumAttentionHeads, 12)),
		IntermediateSize:          or(f.IntermediateSize, orInt(def.IntermediateSize, 3072)),
		HiddenAct:                 or(f.HiddenAct, "gelu"),
		HiddenDropoutProb:         or(f.HiddenDropoutProb, 0.1),
		AttentionProbsDropoutProb: or(f.AttentionProbsDropoutProb, 0.1),
		MaxPositionEmbeddings:     or(f.MaxPositionEmbeddings, 512),
		TypeVocabSize:             or(f.TypeVocabSize, 2),
		LayerNormEps:              or(f.LayerNormEps, 1e-12),
		PadTokenID:                or(f.PadTokenID, def.PadTokenID),
		InitializerRange:          or(f.InitializerRange, 0.02),
	}
	if f.ModelType == "electra" {
		c.EmbeddingSize = or(f.EmbeddingSize, def.EmbeddingSize)
	}
	if err := c.Validate(); err != nil {
		return encoder.Config{}, nil, err
	}
	return c, raw, nil
}

// ReadConfig reads and parses the config.json at path.
func ReadConfig(path string) (encoder.Config, map[string]json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return encoder.Config{}, nil, err
	}
	c, raw, err := ParseConfig(data)
	if err != nil {
		return encoder.Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, raw, nil
}

// ConfigJSON returns c as a HuggingFace config.json, on top of the fields of
// raw (from ParseConfig; may be nil), so that fields hiertune does not use
// survive a load and save.
func ConfigJSON(c encoder.Config, raw map[string]json.RawMessage) ([]byte, error) {
	out := map[string]any{}
	for k, v := range raw {
		out[k] = v
	}
	out["model_type"] = c.ModelType
	out["vocab_size"] = c.VocabSize
	out["hidden_size"] = c.HiddenSize
	out["num_hidden_layers"] = c.NumHiddenLayers
	out["num_attention_heads"] = c.NumAttentionHeads
	out["intermediate_size"] = c.IntermediateSize
	out["hidden_act"] = c.HiddenAct
	out["hidden_dropout_prob"] = c.HiddenDropoutProb
	out["attention_probs_dropout_prob"] = c.AttentionProbsDropoutProb
	out["max_position_embeddings"] = c.MaxPositionEmbeddings
	out["type_vocab_size"] = c.TypeVocabSize
	out["layer_norm_eps"] = c.LayerNormEps
	out["pad_token_id"] = c.PadTokenID
	out["initializer_range"] = c.InitializerRange
	out["position_embedding_type"] = "absolute"
	if c.EmbeddingSize > 0 {
		out["embedding_size"] = c.EmbeddingSize
	}
	if _, ok := out["architectures"]; !ok {
		out["architectures"] = []string{defaultArchitecture[c.ModelType]}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

var defaultArchitecture = map[string]string{
	"bert": "BertModel", "roberta": "RobertaModel", "xlm-roberta": "XLMRobertaModel",
	"camembert": "CamembertModel", "electra": "ElectraModel",
}

func or[T any](p *T, def T) T {
	if p != nil {
		return *p
	}
	return def
}

// position returns the line and column (1-based, in bytes) of the byte
// before offset, where encoding/json reports a syntax error.
func position(data []byte, offset int64) (line, col int) {
	before := data[:max(min(offset, int64(len(data)))-1, 0)]
	line = 1 + bytes.Count(before, []byte("\n"))
	return line, len(before) - bytes.LastIndexByte(before, '\n')
}

func orInt(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}
