package encoder

import (
	"fmt"
	"sort"
)

// base is BERT-base's configuration, which the presets start from.
var base = Config{
	ModelType: "bert", VocabSize: 30522, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12,
	IntermediateSize: 3072, HiddenAct: "gelu", HiddenDropoutProb: 0.1, AttentionProbsDropoutProb: 0.1,
	MaxPositionEmbeddings: 512, TypeVocabSize: 2, LayerNormEps: 1e-12, InitializerRange: 0.02,
}

// Presets are named architectures (the shapes of well-known checkpoints, the
// same as the PyTorch oracle's), for benchmarks and training from scratch.
var Presets = map[string]Config{
	"bert-base": base,
	"bert-mini": with(base, func(c *Config) {
		c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize = 4, 256, 4, 1024
	}),
	"bert-tiny": with(base, func(c *Config) {
		c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize = 2, 128, 2, 512
	}),
	"minilm-l6-h384": with(base, func(c *Config) {
		c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize = 6, 384, 12, 1536
	}),
	"micro": with(base, func(c *Config) {
		c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads, c.IntermediateSize = 2, 32, 4, 64
		c.VocabSize, c.MaxPositionEmbeddings = 128, 64
	}),
}

func with(c Config, f func(*Config)) Config {
	f(&c)
	return c
}

// Preset returns the named preset, or an error listing the known names.
func Preset(name string) (Config, error) {
	c, ok := Presets[name]
	if !ok {
		names := make([]string, 0, len(Presets))
		for n := range Presets {
			names = append(names, n)
		}
		sort.Strings(names)
		return Config{}, fmt.Errorf("unknown preset %q (known: %v)", name, names)
	}
	return c, nil
}
