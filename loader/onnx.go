package loader

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/loader/onnxweights"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/tensor"
)

// readONNX extracts the encoder weights of a BERT exported to ONNX.
func readONNX(path string) (map[string]*tensor.Tensor, map[string]string, error) {
	ts, _, err := extractONNX(path)
	if err != nil {
		return nil, nil, err
	}
	return ts, sourceMap(ts, path), nil
}

func extractONNX(path string) (map[string]*tensor.Tensor, onnxweights.Report, error) {
	m, err := onnx.ReadFile(path)
	if err != nil {
		return nil, onnxweights.Report{}, err // it names the file
	}
	ts, rep, err := onnxweights.Extract(m)
	if err != nil {
		return nil, rep, fmt.Errorf("%s: %w", path, err)
	}
	return ts, rep, nil
}

// ReadONNX reads the encoder of a BERT-family model exported to ONNX. The
// configuration comes from a config.json beside the file when there is one,
// and otherwise from the graph itself (layer count, sizes, heads, epsilon
// and activation, as a BERT model type); it is checked against the weights
// as Read does.
func ReadONNX(path string) (*Checkpoint, error) {
	dir := filepath.Dir(path)
	ts, rep, err := extractONNX(path)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Dir: dir, configFile: filepath.Join(dir, "config.json")}
	if _, err := os.Stat(ck.configFile); err == nil {
		if ck.Config, ck.RawConfig, err = ReadConfig(ck.configFile); err != nil {
			return nil, err
		}
	} else if ck.Config, err = configFromGraph(path, rep); err != nil {
		return nil, err
	} else {
		ck.configFile = path
	}
	if ck.Tensors, ck.Files, ck.Prefix, err = normalise(ts, sourceMap(ts, path)); err != nil {
		return nil, err
	}
	if err := ck.checkConfig(); err != nil {
		return nil, err
	}
	return ck, nil
}

// configFromGraph builds a BERT configuration from what the graph shows.
func configFromGraph(path string, rep onnxweights.Report) (encoder.Config, error) {
	c := rep.Config
	if c.NumAttentionHeads == 0 || c.HiddenAct == "" || c.LayerNormEps == 0 {
		return encoder.Config{}, fmt.Errorf("%s: the graph does not show the attention heads, activation and LayerNorm epsilon (%v); put a config.json beside it", path, rep.StructureErr)
	}
	cfg := encoder.Config{
		ModelType: "bert", VocabSize: c.VocabSize, HiddenSize: c.HiddenSize, NumHiddenLayers: c.NumHiddenLayers,
		NumAttentionHeads: c.NumAttentionHeads, IntermediateSize: c.IntermediateSize, HiddenAct: c.HiddenAct,
		MaxPositionEmbeddings: c.MaxPositionEmbeddings, TypeVocabSize: c.TypeVocabSize, LayerNormEps: c.LayerNormEps,
		InitializerRange: 0.02,
	}
	if err := cfg.Validate(); err != nil {
		return encoder.Config{}, fmt.Errorf("%s: configuration read from the graph: %w", path, err)
	}
	return cfg, nil
}
