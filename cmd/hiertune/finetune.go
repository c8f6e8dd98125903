package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/hiertune/hiertune/export"
	"github.com/hiertune/hiertune/export/ort"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/hierarchy"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/internal/yamlstrict"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/model"
)

func runFinetune(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("finetune", "finetune --config X.yaml [--output DIR] [--seed N] [--steps N] [--resume | --restart]"+distributedUsage, stdout, stderr)
	job := addJobFlags(fs, "docs/finetuning.md")
	seed := fs.Int64("seed", -1, "the random seed (overrides the configuration's train.seed)")
	steps := fs.Int("steps", 0, "train this many steps (overrides the configuration's train.steps or train.epochs)")
	cfg, m, stopProfile, err := startJob(fs, job, args, finetune.ParseConfig)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *job.output != "" {
		cfg.Output = *job.output
	}
	if *seed >= 0 {
		cfg.Train.Seed = uint64(*seed)
	}
	if *steps != 0 {
		if *steps < 0 || len(cfg.Continual) > 0 {
			return usageError{"--steps must be positive, and the configuration must not have a continual schedule"}
		}
		cfg.Train.Steps, cfg.Train.Epochs = *steps, 0
	}
	return runJob(cfg, func(ctx context.Context, resolved []byte) error {
		return finetune.Run(ctx, cfg, resolved, m, stderr, nil)
	})
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", "eval --run DIR --data FILE [--dataset NAME] [--checkpoint best] [--engine onnx --onnx FILE]", stdout, stderr)
	runDir := fs.String("run", "", "a fine-tuning run directory")
	data := fs.String("data", "", "a file in the format of one of the run's datasets")
	dataset := fs.String("dataset", "", "which of the run's datasets the file belongs to (needed when it has several)")
	checkpoint := fs.String("checkpoint", "best", "which checkpoint: best, latest, or a step-NNNNNNN name")
	batch := fs.Int("batch", 0, "sentences per batch (0: the run's eval batch size)")
	engine := engineFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runDir == "" || *data == "" {
		return usageError{"--run and --data are required"}
	}
	m, closeEngine, err := engine.open(*runDir, *checkpoint)
	if err != nil {
		return err
	}
	defer closeEngine()
	scores, err := m.Evaluate(*dataset, *data, *batch, stderr)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(scores))
	for k := range scores {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stderr, "%-24s %.4f\n", k, scores[k])
	}
	return json.NewEncoder(stdout).Encode(scores)
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", "predict --run DIR --input FILE --output FILE [--force] [--dataset NAME] [--checkpoint best] [--engine onnx --onnx FILE]", stdout, stderr)
	runDir := fs.String("run", "", "a fine-tuning run directory")
	input := fs.String("input", "", "a file in the format of one of the run's datasets (CoNLL-U, CoNLL, TSV)")
	output := fs.String("output", "", "where to write the predictions, in the same format (- for standard output)")
	dataset := fs.String("dataset", "", "which of the run's datasets the file belongs to (needed when it has several)")
	checkpoint := fs.String("checkpoint", "best", "which checkpoint: best, latest, or a step-NNNNNNN name")
	batch := fs.Int("batch", 0, "sentences per batch (0: the run's eval batch size)")
	force := fs.Bool("force", false, "write --output even when it is the --input file")
	engine := engineFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runDir == "" || *input == "" || *output == "" {
		return usageError{"--run, --input and --output are required"}
	}
	if *output != "-" && !*force && sameFile(*input, *output) {
		return usageError{fmt.Sprintf("--output %s is the --input file: the predictions would replace the gold annotation (give --force to do it)", *output)}
	}
	m, closeEngine, err := engine.open(*runDir, *checkpoint)
	if err != nil {
		return err
	}
	defer closeEngine()
	if *output == "-" {
		return m.PredictFile(*dataset, *input, stdout, *batch, stderr)
	}
	var buf bytes.Buffer
	if err := m.PredictFile(*dataset, *input, &buf, *batch, stderr); err != nil {
		return err
	}
	return atomicfile.Write(*output, buf.Bytes())
}

// sameFile reports whether paths a and b name the same existing file.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// engineChoice holds the flags that choose what computes a run's scores.
type engineChoice struct {
	engine, onnxFile, ortLib, merge *string
}

// engineFlags defines --engine, --onnx and --ort-lib on fs.
func engineFlags(fs *flag.FlagSet) engineChoice {
	return engineChoice{
		engine:   fs.String("engine", "go", "what computes the scores: go (hiertune) or onnx (ONNX Runtime on --onnx)"),
		onnxFile: fs.String("onnx", "", "the run's model exported by hiertune export, for --engine onnx"),
		ortLib:   fs.String("ort-lib", "", "the ONNX Runtime library (default: $"+ort.LibraryEnv+" or third_party/onnxruntime)"),
		merge:    fs.String("merge", "", "token merging with the go engine, in place of the run's hierarchy.merge: none, or a merge block in YAML flow style, e.g. '{by: keys, after: [1, 2], ratio: 0.3}'"),
	}
}

// parseMerge reads a --merge value: nil for none, else the merging.
func parseMerge(spec string) (*hierarchy.MergeConfig, error) {
	if spec == "none" {
		return nil, nil
	}
	var c hierarchy.MergeConfig
	if err := yamlstrict.Decode([]byte(spec), &c, nil); err != nil {
		return nil, usageError{fmt.Sprintf("--merge %q: %v", spec, err)}
	}
	return &c, nil
}

// open opens the fine-tuning run's checkpoint with the chosen engine set,
// and returns what releases the engine.
func (c engineChoice) open(runDir, checkpoint string) (*model.Model, func(), error) {
	if (*c.engine == "onnx") != (*c.onnxFile != "") || (*c.engine != "go" && *c.engine != "onnx") {
		return nil, nil, usageError{"--engine is go or onnx, and --onnx FILE goes with --engine onnx"}
	}
	m, err := finetune.Open(runDir, checkpoint)
	if err != nil {
		return nil, nil, err
	}
	m.Encoder.PrepareInference()
	if *c.merge != "" {
		if *c.engine != "go" {
			return nil, nil, usageError{"--merge goes with --engine go: an exported graph runs unmerged (see docs/hierarchy.md)"}
		}
		mc, err := parseMerge(*c.merge)
		if err != nil {
			return nil, nil, err
		}
		if err := m.SetMerge(mc); err != nil {
			return nil, nil, fmt.Errorf("--merge: %w", err)
		}
	}
	if *c.engine == "go" {
		return m, func() {}, nil
	}
	// The exported graph is the unmerged model.
	if err := m.SetMerge(nil); err != nil {
		return nil, nil, err
	}
	s, err := openONNX(m, *c.onnxFile, *c.ortLib, kernels.Threads())
	if err != nil {
		return nil, nil, err
	}
	m.SetEngine(export.NewEngine(m, s))
	return m, func() { s.Close() }, nil
}
