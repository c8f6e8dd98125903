package hub

import (
	"fmt"
	"strconv"
	"strings"
)

// A Selector chooses the files to use from a repository's file list: the
// Hub's listing when online, the files of the cached snapshot when offline.
// Names are slash-separated paths relative to the repository root. It returns
// an error when a file it needs is not in the list.
type Selector func(files []string) ([]string, error)

// tokenizerFiles are the tokenizer files a BERT-family checkpoint may have.
var tokenizerFiles = []string{
	"tokenizer.json",
	"tokenizer_config.json",
	"special_tokens_map.json",
	"vocab.txt",
	"vocab.json",
	"merges.txt",
	"sentencepiece.bpe.model",
	"spiece.model",
}

// ModelFiles is the Selector for a BERT-family checkpoint. It chooses
// config.json, the tokenizer files present (tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, vocab.txt, vocab.json,
// merges.txt, sentencepiece.bpe.model, spiece.model) and one set of weights,
// in the order transformers prefers them: model.safetensors,
// model.safetensors.index.json with its shards, pytorch_model.bin,
// pytorch_model.bin.index.json with its shards.
//
// Shards are recognized by transformers' naming, model-00001-of-00003.safetensors
// or pytorch_model-00001-of-00003.bin, and all of them must be present.
func ModelFiles(files []string) ([]string, error) {
	have := make(map[string]bool, len(files))
	for _, f := range files {
		have[f] = true
	}
	if !have["config.json"] {
		return nil, fmt.Errorf("no config.json")
	}
	out := []string{"config.json"}
	for _, f := range tokenizerFiles {
		if have[f] {
			out = append(out, f)
		}
	}
	switch {
	case have["model.safetensors"]:
		return append(out, "model.safetensors"), nil
	case have["model.safetensors.index.json"]:
		return appendShards(out, files, "model.safetensors.index.json", "model", ".safetensors")
	case have["pytorch_model.bin"]:
		return append(out, "pytorch_model.bin"), nil
	case have["pytorch_model.bin.index.json"]:
		return appendShards(out, files, "pytorch_model.bin.index.json", "pytorch_model", ".bin")
	}
	return nil, fmt.Errorf("no weights: want model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json")
}

// appendShards appends index and the shards prefix-NNNNN-of-NNNNN.suffix
// found in files to out, checking that exactly one complete set is present.
func appendShards(out, files []string, index, prefix, suffix string) ([]string, error) {
	total := 0
	seen := map[int]bool{}
	for _, f := range files {
		i, n, ok := parseShardName(f, prefix, suffix)
		if !ok {
			continue
		}
		if total != 0 && n != total {
			return nil, fmt.Errorf("%s: shards of two different sets (of %d and of %d)", index, total, n)
		}
		total = n
		seen[i] = true
	}
	if total == 0 {
		return nil, fmt.Errorf("%s: no shards named %s-NNNNN-of-NNNNN%s", index, prefix, suffix)
	}
	out = append(out, index)
	for i := 1; i <= total; i++ {
		if !seen[i] {
			return nil, fmt.Errorf("%s: shard %s is missing", index, shardName(prefix, suffix, i, total))
		}
		out = append(out, shardName(prefix, suffix, i, total))
	}
	return out, nil
}

// parseShardName parses prefix-IIIII-of-NNNNN.suffix, requiring 1 <= I <= N
// and the zero padding transformers writes, so the name round-trips.
func parseShardName(name, prefix, suffix string) (i, n int, ok bool) {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return 0, 0, false
	}
	if rest, ok = strings.CutSuffix(rest, suffix); !ok {
		return 0, 0, false
	}
	is, ns, ok := strings.Cut(rest, "-of-")
	if !ok {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if err1 != nil || err2 != nil || i < 1 || i > n || shardName(prefix, suffix, i, n) != name {
		return 0, 0, false
	}
	return i, n, true
}

func shardName(prefix, suffix string, i, n int) string {
	return fmt.Sprintf("%s-%05d-of-%05d%s", prefix, i, n, suffix)
}
