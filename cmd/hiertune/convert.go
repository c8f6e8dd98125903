package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/tensor"
)

// torchDTypes are config.json's names for the weight dtypes.
var torchDTypes = map[tensor.DType]string{tensor.F32: "float32", tensor.F16: "float16", tensor.BF16: "bfloat16"}

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("convert", "convert --model DIR|FILE.onnx|hf:ORG/NAME --output DIR [--dtype F16|BF16|F32] [--grow LAYERS [--grow-scheme stack|interleave]]", stdout, stderr)
	model := fs.String("model", "", "the checkpoint to convert (anything the loader reads: safetensors, pytorch_model.bin, ONNX, the Hub)")
	output := fs.String("output", "", "the directory to write: config.json, model.safetensors and the tokenizer files")
	dtype := fs.String("dtype", "F16", "the dtype of the written weights: F32, F16 or BF16")
	grow := fs.Int("grow", 0, "write a deeper encoder made by copying the checkpoint's layers (a multiple of its depth), as pretrain's model.grow does")
	scheme := fs.String("grow-scheme", "stack", "how --grow copies layers: stack (copies of the whole stack on top) or interleave (each layer followed by its copies)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" || *output == "" {
		return usageError{"--model and --output are required"}
	}
	dt := tensor.DType(strings.ToUpper(*dtype))
	if _, ok := torchDTypes[dt]; !ok {
		return usageError{fmt.Sprintf("--dtype %q: want F32, F16 or BF16", *dtype)}
	}
	ck, err := openCheckpoint(*model, stderr)
	if err != nil {
		return err
	}
	if *grow > 0 {
		if err := ck.Grow(*grow, *scheme); err != nil {
			return fmt.Errorf("--grow: %s: %w", *model, err)
		}
	}
	m, err := ck.Model() // every encoder tensor is there and fits the configuration
	if err != nil {
		return err
	}
	prefix := ck.Prefix
	if prefix == "" {
		prefix = "bert."
	}
	encoder := map[string]bool{}
	for _, np := range m.NamedParams() {
		encoder[np.Name] = true
	}
	out := map[string]*tensor.Tensor{}
	for name, t := range ck.Tensors {
		if !t.DType.IsFloat() {
			continue // buffers such as position_ids, which loaders rebuild
		}
		v, err := t.Float32()
		if err != nil {
			return fmt.Errorf("%s: tensor %q: %w", ck.Files[name], name, err)
		}
		if encoder[name] {
			name = prefix + name
		}
		if out[name], err = tensor.FromFloat32As(t.Shape, v, dt); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*output, 0o755); err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(*output, "model.safetensors"), out, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	raw := map[string]json.RawMessage{}
	for k, v := range ck.RawConfig {
		raw[k] = v
	}
	raw["torch_dtype"], _ = json.Marshal(torchDTypes[dt])
	cfg, err := loader.ConfigJSON(ck.Config, raw)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(*output, "config.json"), cfg); err != nil {
		return err
	}
	for _, f := range tokenizer.Files {
		if b, err := os.ReadFile(filepath.Join(ck.Dir, f)); err == nil {
			if err := atomicfile.Write(filepath.Join(*output, f), b); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "wrote %s: %d tensors in %s\n", *output, len(out), dt)
	return nil
}
