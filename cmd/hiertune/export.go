package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/hiertune/hiertune/export"
	"github.com/hiertune/hiertune/export/ort"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/onnx"
)

// maxDiff is the largest difference --check accepts between the outputs
// of hiertune's engine and ONNX Runtime.
const maxDiff = 1e-4

func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", "export --run DIR --output FILE [--checkpoint best] [--opset 17] [--hidden-states 0,2] [--check] [--bench] [--dump FILE] [--data FILE] [--dataset NAME]", stdout, stderr)
	runDir := fs.String("run", "", "a fine-tuning run directory")
	checkpoint := fs.String("checkpoint", "best", "which checkpoint: best, latest, or a step-NNNNNNN name")
	output := fs.String("output", "", "where to write the ONNX model")
	opset := fs.Int("opset", export.DefaultOpset, "ONNX operator set (17 to 21)")
	hidden := fs.String("hidden-states", "", "comma-separated hidden states to add as outputs hidden_states.N (0: embeddings)")
	unmerged := fs.Bool("unmerged", false, "export a model that merges tokens (hierarchy.merge) without its merging: the graph computes the unmerged model")
	check := fs.Bool("check", false, "run hiertune and ONNX Runtime on sample input, print the max abs difference per output, and fail above 1e-4")
	bench := fs.Bool("bench", false, "measure inference tokens/s of hiertune and ONNX Runtime on the sample input (JSON lines)")
	dump := fs.String("dump", "", "write the first sample batch's inputs and hiertune's outputs to this safetensors file (a reference for other ONNX tools)")
	data := fs.String("data", "", "sample input for --check and --bench (default: each dataset's dev file)")
	dataset := fs.String("dataset", "", "which of the run's datasets --check, --bench and --dump use (default: all; --dump needs one if there are several)")
	batch := fs.Int("batch", 0, "sentences per batch for --check and --bench (0: the run's eval batch size)")
	threads := fs.Int("threads", kernels.Threads(), "threads for both engines")
	ortLib := fs.String("ort-lib", "", "the ONNX Runtime library (default: $"+ort.LibraryEnv+" or third_party/onnxruntime)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runDir == "" || *output == "" {
		return usageError{"--run and --output are required"}
	}
	opt := export.Options{Opset: *opset}
	if *hidden != "" {
		for _, f := range strings.Split(*hidden, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return usageError{fmt.Sprintf("--hidden-states: %q is not a layer number", f)}
			}
			opt.HiddenStates = append(opt.HiddenStates, n)
		}
	}
	kernels.SetThreads(*threads)
	m, err := finetune.Open(*runDir, *checkpoint)
	if err != nil {
		return err
	}
	if m.Merge() != nil {
		if !*unmerged {
			return fmt.Errorf("%s: the model merges tokens (hierarchy.merge), and merging is agglomerative clustering — a data-dependent number of steps, each choosing the closest pair — which an ONNX graph cannot express as static operators; give --unmerged to export the model without merging", *runDir)
		}
		if err := m.SetMerge(nil); err != nil {
			return err
		}
	}
	om, err := export.Model(m, opt)
	m.Encoder.PrepareInference() // for --check and --bench: hiertune's engine as it serves
	if err != nil {
		return err
	}
	b, err := om.Encode()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(*output, b); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s: opset %d, %d nodes, %d initializers, %.1f MB\n", *output, *opset, len(om.Graph.Node), len(om.Graph.Initializer), float64(len(b))/1e6)
	if *dump != "" {
		if err := dumpSample(m, om, *dump, *dataset, *data, *batch); err != nil {
			return err
		}
	}
	if !*check && !*bench {
		return nil
	}
	s, err := openONNX(m, *output, *ortLib, *threads)
	if err != nil {
		return err
	}
	defer s.Close()
	names := m.DatasetNames()
	if *dataset != "" || *data != "" {
		names = []string{*dataset}
	}
	for _, ds := range names {
		path, err := sampleFile(m, ds, *data)
		if err != nil {
			return err
		}
		if *check {
			if err := checkEngines(m, s, ds, path, *batch, stderr); err != nil {
				return err
			}
		}
		if *bench {
			goTok, ortTok, err := export.Speed(m, s, ds, path, *batch, 3)
			if err != nil {
				return err
			}
			line, _ := json.Marshal(map[string]any{"dataset": ds, "data": path, "threads": *threads,
				"hiertune_tokens_per_s": goTok, "onnxruntime_tokens_per_s": ortTok})
			fmt.Fprintln(stdout, string(line))
		}
	}
	return nil
}

// sampleFile returns the file --check, --bench and --dump read for a
// dataset: data, or the dataset's dev file.
func sampleFile(m *model.Model, dataset, data string) (string, error) {
	if data != "" {
		return data, nil
	}
	d, err := m.Dataset(dataset)
	if err != nil {
		return "", err
	}
	if d.Config.Dev == "" {
		return "", fmt.Errorf("dataset %s has no dev file: give one with --data", d.Name)
	}
	return d.Config.Dev, nil
}

// checkEngines prints the max abs difference of each output between
// hiertune and ONNX Runtime on a dataset's file, and fails above maxDiff.
func checkEngines(m *model.Model, s *ort.Session, dataset, path string, batch int, stderr io.Writer) error {
	diff, err := export.Compare(m, s, s.OutputNames(), dataset, path, batch, stderr)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(diff))
	for name := range diff {
		names = append(names, name)
	}
	sort.Strings(names)
	var bad []string
	fmt.Fprintf(stderr, "check on %s:\n", path)
	for _, name := range names {
		verdict := "ok"
		if diff[name] > maxDiff {
			verdict = "FAIL"
			bad = append(bad, name)
		}
		fmt.Fprintf(stderr, "  %-32s max abs diff %.3g  %s\n", name, diff[name], verdict)
	}
	if len(bad) > 0 {
		return fmt.Errorf("check: %s differ from hiertune by more than %g", strings.Join(bad, ", "), maxDiff)
	}
	return nil
}

// openONNX opens an exported model with ONNX Runtime and checks that its
// inputs and outputs are those of run m.
func openONNX(m *model.Model, path, lib string, threads int) (*ort.Session, error) {
	s, err := ort.Open(path, ort.Options{Library: lib, Threads: threads})
	if err != nil {
		return nil, err
	}
	if err := export.CheckGraph(m, s.Inputs(), s.Outputs()); err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// dumpSample writes the inputs of the first batch of sample data and
// hiertune's values of the graph's outputs for it as safetensors.
func dumpSample(m *model.Model, om *onnx.Model, path, dataset, data string, batch int) error {
	data, err := sampleFile(m, dataset, data)
	if err != nil {
		return err
	}
	var outputs []string
	for _, o := range om.Graph.Output {
		outputs = append(outputs, o.Name)
	}
	ts, err := export.SampleIO(m, dataset, data, batch, outputs)
	if err != nil {
		return err
	}
	b, err := safetensors.Encode(ts, map[string]string{"source": "hiertune export --dump", "data": data})
	if err != nil {
		return err
	}
	return atomicfile.Write(path, b)
}
