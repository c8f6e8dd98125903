// Package loader reads pretrained BERT-family checkpoints — a HuggingFace
// directory, a model on the HuggingFace Hub, or an ONNX export — into an
// encoder.Model.
//
// Weights may come from model.safetensors, a sharded
// model.safetensors.index.json, the older pytorch_model.bin (sharded or not)
// or model.onnx, in F32, F16 or BF16. Keys are accepted with or without a
// model prefix ("bert.", "roberta.", "electra.") and with the legacy
// LayerNorm names gamma/beta. Keys that are not encoder parameters (an MLM or
// classification head) are reported, not fatal; a missing or mis-shaped
// encoder tensor is an error that names the tensor and the file.
package loader

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader/hub"
	"github.com/hiertune/hiertune/loader/pytorch"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/tensor"
)

// Checkpoint is a checkpoint's configuration and weights, not yet turned
// into a model.
type Checkpoint struct {
	// Dir is the directory the checkpoint was read from.
	Dir string
	// Config is the encoder architecture and RawConfig every field of
	// config.json.
	Config    encoder.Config
	RawConfig map[string]json.RawMessage
	// Tensors holds every weight under its normalised name: model prefix
	// removed, gamma/beta renamed (so encoder keys are the canonical
	// BertModel ones and heads keep theirs, e.g. "cls.predictions.bias").
	Tensors map[string]*tensor.Tensor
	// Files maps each tensor name to the file it came from.
	Files map[string]string
	// Prefix is the model prefix the keys had ("bert.", "" ...).
	Prefix string
	// Offline is set when a Hub checkpoint came from the local cache
	// without asking the Hub, and says why.
	Offline error
	// configFile names where Config came from, for errors: config.json,
	// or the ONNX file whose graph showed it.
	configFile string
}

// weightFiles are the weight files looked for in a checkpoint directory, in
// order of preference.
var weightFiles = []string{
	"model.safetensors", "model.safetensors.index.json",
	"pytorch_model.bin", "pytorch_model.bin.index.json",
	"model.onnx",
}

// Read reads the config and weights of the checkpoint directory dir, and
// checks the config against the weights' shapes and layer count.
func Read(dir string) (*Checkpoint, error) {
	cfgPath := filepath.Join(dir, "config.json")
	cfg, raw, err := ReadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Dir: dir, Config: cfg, RawConfig: raw, configFile: cfgPath}
	var weights string
	for _, name := range weightFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			weights = name
			break
		}
	}
	var tensors map[string]*tensor.Tensor
	var files map[string]string
	switch weights {
	case "":
		return nil, fmt.Errorf("%s: no weights found (looked for %s)", dir, strings.Join(weightFiles, ", "))
	case "model.safetensors":
		tensors, files, err = readSafetensors(filepath.Join(dir, weights))
	case "model.safetensors.index.json", "pytorch_model.bin.index.json":
		tensors, files, err = readSharded(filepath.Join(dir, weights))
	case "pytorch_model.bin":
		tensors, files, err = readPyTorch(filepath.Join(dir, weights))
	case "model.onnx":
		tensors, files, err = readONNX(filepath.Join(dir, weights))
	}
	if err != nil {
		return nil, err
	}
	ck.Tensors, ck.Files, ck.Prefix, err = normalise(tensors, files)
	if err != nil {
		return nil, err
	}
	if err := ck.checkConfig(); err != nil {
		return nil, err
	}
	return ck, nil
}

func readSafetensors(path string) (map[string]*tensor.Tensor, map[string]string, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	ts := f.Tensors()
	return ts, sourceMap(ts, path), nil
}

func sourceMap(ts map[string]*tensor.Tensor, path string) map[string]string {
	files := make(map[string]string, len(ts))
	for name := range ts {
		files[name] = path
	}
	return files
}

// readSharded reads the shards listed by a HuggingFace index file
// ({"weight_map": {tensor: shard file}}) and checks that every listed tensor
// is in its shard, and in no other.
func readSharded(indexPath string) (map[string]*tensor.Tensor, map[string]string, error) {
	data, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, nil, err
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", indexPath, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, nil, fmt.Errorf("%s: empty or missing weight_map", indexPath)
	}
	shards := map[string]bool{}
	for _, shard := range index.WeightMap {
		if shard != filepath.Base(shard) {
			return nil, nil, fmt.Errorf("%s: shard name %q must be a plain file name", indexPath, shard)
		}
		shards[shard] = true
	}
	names := make([]string, 0, len(shards))
	for s := range shards {
		names = append(names, s)
	}
	sort.Strings(names)
	tensors, files := map[string]*tensor.Tensor{}, map[string]string{}
	dir := filepath.Dir(indexPath)
	for _, shard := range names {
		path := filepath.Join(dir, shard)
		var ts map[string]*tensor.Tensor
		if strings.HasSuffix(shard, ".safetensors") {
			ts, _, err = readSafetensors(path)
		} else {
			ts, _, err = readPyTorch(path)
		}
		if err != nil {
			return nil, nil, err
		}
		for name, t := range ts {
			if prev, dup := files[name]; dup {
				return nil, nil, fmt.Errorf("%s: tensor %q is in both %s and %s", indexPath, name, filepath.Base(prev), shard)
			}
			tensors[name] = t
			files[name] = path
		}
	}
	for name, shard := range index.WeightMap {
		if files[name] != filepath.Join(dir, shard) {
			return nil, nil, fmt.Errorf("%s: tensor %q is listed in %s but not found there", indexPath, name, shard)
		}
	}
	return tensors, files, nil
}

// modelPrefixes are the key prefixes of HuggingFace task models
// (BertForMaskedLM keeps its encoder under "bert.", and so on).
var modelPrefixes = []string{"bert.", "roberta.", "electra.", "discriminator."}

// normalise strips the model prefix from encoder keys and renames legacy
// LayerNorm gamma/beta. Two keys that normalise to the same name are an
// error.
func normalise(in map[string]*tensor.Tensor, files map[string]string) (map[string]*tensor.Tensor, map[string]string, string, error) {
	prefix := ""
	for name := range in {
		for _, p := range modelPrefixes {
			if strings.HasPrefix(name, p+"embeddings.") || strings.HasPrefix(name, p+"encoder.") {
				prefix = p
			}
		}
	}
	out := make(map[string]*tensor.Tensor, len(in))
	outFiles := make(map[string]string, len(in))
	origin := map[string]string{}
	for name, t := range in {
		n := strings.TrimPrefix(name, prefix)
		if strings.Contains(n, "LayerNorm.") || strings.Contains(n, "layer_norm.") {
			n = strings.Replace(n, ".gamma", ".weight", 1)
			n = strings.Replace(n, ".beta", ".bias", 1)
		}
		if prev, dup := origin[n]; dup {
			return nil, nil, "", fmt.Errorf("%s: tensors %q and %q both map to %q", files[name], prev, name, n)
		}
		origin[n] = name
		out[n] = t
		outFiles[n] = files[name]
	}
	return out, outFiles, prefix, nil
}

// Extra returns the names of tensors that are not parameters of the encoder
// (task heads, buffers such as position_ids), sorted.
func (c *Checkpoint) Extra() []string {
	// CheckSize bounds the parameter list of a Checkpoint not made by Read.
	if c.Config.Validate() != nil || c.Config.CheckSize(true) != nil {
		return nil
	}
	own := map[string]bool{}
	for _, p := range c.Config.ParamShapes(true) {
		own[p.Name] = true
	}
	var extra []string
	for name := range c.Tensors {
		if !own[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	return extra
}

// HasPooler reports whether the checkpoint holds pooler weights.
func (c *Checkpoint) HasPooler() bool {
	_, w := c.Tensors["pooler.dense.weight"]
	_, b := c.Tensors["pooler.dense.bias"]
	return w || b
}

// Model builds the encoder and copies the checkpoint's weights into it
// (upcasting F16 and BF16 to float32). The pooler is included when the
// checkpoint has one. A model that would not fit in memory (see
// encoder.CheckSize) is an error naming config.json and the key.
func (c *Checkpoint) Model() (*encoder.Model, error) {
	m, err := encoder.New(c.Config, c.HasPooler())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmp.Or(c.configFile, c.Dir), err)
	}
	for _, np := range m.NamedParams() {
		t, ok := c.Tensors[np.Name]
		if !ok {
			return nil, fmt.Errorf("%s: missing tensor %q%s", c.Dir, c.Prefix+np.Name, missingHint(np.Name))
		}
		if err := t.CopyTo(kernels.Values(np.Param), np.Shape); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w (does config.json match the weights?)", c.Files[np.Name], c.Prefix+np.Name, err)
		}
	}
	return m, nil
}

func missingHint(name string) string {
	if strings.HasPrefix(name, "pooler.") {
		return " (the pooler's weight and bias must both be present or both absent)"
	}
	return ""
}

// Open reads a checkpoint from ref: a directory, an .onnx file,
// "hf:org/name[@revision]" on the HuggingFace Hub (fetched with
// hub.NewClient() into the local cache, or taken from it when offline), or
// the name of a checkpoint embedded in the binary (package checkpoints).
func Open(ref string) (*Checkpoint, error) {
	return OpenWith(context.Background(), ref, hub.NewClient())
}

// OpenWith is Open with a context and Hub client of the caller's.
func OpenWith(ctx context.Context, ref string, client *hub.Client) (*Checkpoint, error) {
	if !strings.HasPrefix(ref, "hf:") {
		if _, err := os.Stat(ref); err != nil && slices.Contains(checkpoints.Names(), ref) {
			dir, err := checkpoints.Dir(ref)
			if err != nil {
				return nil, err
			}
			return Read(dir)
		} else if err != nil {
			return nil, fmt.Errorf("checkpoint %q: not a directory or file, an hf:org/name reference, or an embedded checkpoint (%s)", ref, strings.Join(checkpoints.Names(), ", "))
		}
		if strings.HasSuffix(ref, ".onnx") {
			return ReadONNX(ref)
		}
		return Read(ref)
	}
	r, err := hub.ParseRef(ref)
	if err != nil {
		return nil, err
	}
	snap, err := client.Download(ctx, r, hub.ModelFiles)
	if err != nil {
		return nil, err
	}
	ck, err := Read(snap.Dir)
	if err != nil {
		return nil, err
	}
	ck.Offline = snap.Offline
	return ck, nil
}

func readPyTorch(path string) (map[string]*tensor.Tensor, map[string]string, error) {
	ts, err := pytorch.Load(path)
	if err != nil {
		return nil, nil, err
	}
	return ts, sourceMap(ts, path), nil
}
