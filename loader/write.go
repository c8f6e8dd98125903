package loader

import (
	"encoding/json"
	"maps"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/tensor"
)

// EncoderFiles returns the files of a HuggingFace checkpoint directory
// holding m: model.safetensors with the encoder's weights under prefix
// ("bert.") and the tensors of extra (a head's) under their own names,
// config.json on top of the fields raw with architectures set to arch
// (BertModel, BertForMaskedLM...), and the tokenizer files tok.
func EncoderFiles(m *encoder.Model, prefix string, raw map[string]json.RawMessage, arch string, extra map[string]*tensor.Tensor, tok map[string][]byte) (map[string][]byte, error) {
	weights := map[string]*tensor.Tensor{}
	for n, t := range encoder.Tensors(m.NamedParams()) {
		weights[prefix+n] = t
	}
	maps.Copy(weights, extra)
	files := maps.Clone(tok)
	if files == nil {
		files = map[string][]byte{}
	}
	var err error
	if files["model.safetensors"], err = safetensors.Encode(weights, map[string]string{"format": "pt"}); err != nil {
		return nil, err
	}
	fields := maps.Clone(raw)
	if fields == nil {
		fields = map[string]json.RawMessage{}
	}
	fields["architectures"], _ = json.Marshal([]string{arch})
	if files["config.json"], err = ConfigJSON(m.Config, fields); err != nil {
		return nil, err
	}
	return files, nil
}
