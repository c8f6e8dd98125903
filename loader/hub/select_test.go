package hub

import (
	"slices"
	"strings"
	"testing"
)

func TestModelFiles(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		want    []string
		wantErr string
	}{
		{
			"safetensors preferred",
			[]string{"README.md", "pytorch_model.bin", "model.safetensors", "vocab.txt", "config.json", "tf_model.h5", "onnx/model.onnx"},
			[]string{"config.json", "vocab.txt", "model.safetensors"}, "",
		},
		{
			"all tokenizer files",
			[]string{"spiece.model", "sentencepiece.bpe.model", "merges.txt", "vocab.json", "vocab.txt", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json", "config.json", "model.safetensors", "added_tokens.json"},
			[]string{"config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model", "model.safetensors"}, "",
		},
		{
			"sharded safetensors over pytorch",
			[]string{"config.json", "pytorch_model.bin", "model-00002-of-00002.safetensors", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model.fp16-00001-of-00001.safetensors"},
			[]string{"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}, "",
		},
		{
			"pytorch only",
			[]string{"config.json", "pytorch_model.bin", "vocab.txt"},
			[]string{"config.json", "vocab.txt", "pytorch_model.bin"}, "",
		},
		{
			"sharded pytorch",
			[]string{"config.json", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00001.bin"},
			[]string{"config.json", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00001.bin"}, "",
		},
		{"no config", []string{"model.safetensors"}, nil, "no config.json"},
		{"no weights", []string{"config.json", "vocab.txt", "tf_model.h5", "onnx/model.safetensors"}, nil, "no weights"},
		{"empty", nil, nil, "no config.json"},
		{
			"missing shard",
			[]string{"config.json", "model.safetensors.index.json", "model-00001-of-00003.safetensors", "model-00003-of-00003.safetensors"},
			nil, "shard model-00002-of-00003.safetensors is missing",
		},
		{
			"no shards",
			[]string{"config.json", "model.safetensors.index.json", "model-1-of-2.safetensors", "model-00000-of-00001.safetensors", "model-00002-of-00001.safetensors"},
			nil, "no shards named model-NNNNN-of-NNNNN.safetensors",
		},
		{
			"two shard sets",
			[]string{"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00001-of-00003.safetensors"},
			nil, "two different sets",
		},
	}
	for _, tt := range tests {
		got, err := ModelFiles(tt.files)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: ModelFiles = %q, %v; want an error saying %q", tt.name, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: ModelFiles = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// FuzzModelFiles checks that ModelFiles never panics and chooses only
// listed files, config.json first.
func FuzzModelFiles(f *testing.F) {
	f.Add("config.json\nmodel.safetensors.index.json\nmodel-00001-of-00002.safetensors\nmodel-00002-of-00002.safetensors")
	f.Add("config.json\npytorch_model.bin.index.json\npytorch_model-00001-of-99999.bin")
	f.Fuzz(func(t *testing.T, list string) {
		files := strings.Split(list, "\n")
		got, err := ModelFiles(files)
		if err != nil {
			return
		}
		if got[0] != "config.json" {
			t.Fatalf("ModelFiles(%q) = %q: config.json not first", files, got)
		}
		for _, g := range got {
			if !slices.Contains(files, g) {
				t.Fatalf("ModelFiles(%q) = %q: %q is not listed", files, got, g)
			}
		}
	})
}
