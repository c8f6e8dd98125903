package loader

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hiertune/hiertune/encoder"
)

// FuzzReadConfig feeds config.json variants to ParseConfig and, through a
// checkpoint holding the micro weights, to the checks Read makes before
// building a model. Nothing may panic or allocate without bound; an
// accepted configuration must be valid and survive ConfigJSON.
func FuzzReadConfig(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"testdata/*/config.json", "onnxweights/testdata/*.config.json",
		"../encoder/testdata/parity/*/ckpt/config.json", "../checkpoints/*/config.json"} {
		paths, _ := filepath.Glob(pattern)
		seeds = append(seeds, paths...)
	}
	if len(seeds) == 0 {
		f.Fatal("no seed configs")
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"hidden_size": 1000000000, "num_attention_heads": 1}`, `{"vocab_size": 1000000000000}`,
		`{"num_hidden_layers": 1000000000}`, `{"max_position_embeddings": 1000000000000, "model_type": "roberta"}`,
		`{"model_type": "electra", "embedding_size": 16}`, `{"layer_norm_eps": 1e-46}`, `{"hidden_size": 1e9}`,
		`{"architectures": ["XLMRobertaForMaskedLM"], "pad_token_id": 62}`,
	} {
		f.Add([]byte(s))
	}
	micro, err := Read("testdata/micro")
	if err != nil {
		f.Fatal(err)
	}
	// A configuration that passes the checks is built: keep it small.
	defer func(v int64) { encoder.MaxModelBytes = v }(encoder.MaxModelBytes)
	encoder.MaxModelBytes = 64 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		c, raw, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted an invalid config: %v", err)
		}
		out, err := ConfigJSON(c, raw)
		if err != nil {
			t.Fatalf("ConfigJSON: %v", err)
		}
		if back, _, err := ParseConfig(out); err != nil || back != c {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, c)
		}
		ck := *micro
		ck.Config = c
		if ck.checkConfig() != nil {
			return
		}
		if _, err := ck.Model(); err == nil && c.NumHiddenLayers != micro.Config.NumHiddenLayers {
			t.Fatalf("a %d-layer model from %d layers of weights", c.NumHiddenLayers, micro.Config.NumHiddenLayers)
		}
		ck.Extra()
	})
}
