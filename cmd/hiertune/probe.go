package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/probing"
	"github.com/hiertune/hiertune/tasks"
)

func runProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("probe", "probe (--config X.yaml [--model CHECKPOINT] | --run DIR [--checkpoint best]) --task upos,head,... [--dataset NAME] [--mlp 256] [--json OUT.json] [--svg OUT.svg]\n       hiertune probe --compare A.json,B.json --svg PREFIX", stdout, stderr)
	config := fs.String("config", "", "a fine-tuning configuration: probe the encoder it starts from (or --model's) on its datasets")
	ckpt := fs.String("model", "", "with --config: probe this checkpoint instead of the configuration's model")
	runDir := fs.String("run", "", "a fine-tuning run: probe its fine-tuned encoder on its datasets")
	checkpoint := fs.String("checkpoint", "best", "with --run: which checkpoint (best, latest, step-NNNNNNN)")
	dataset := fs.String("dataset", "", "which dataset (needed when there are several); its train file trains the probes, its dev file scores them")
	taskList := fs.String("task", "", "comma-separated gold columns to probe: upos, xpos, feats, deprel, head (arcs) for CoNLL-U; tag for CoNLL; label for TSV")
	limit := fs.Int("train-limit", 4000, "train the probes on at most this many training examples (0: all)")
	mlp := fs.Int("mlp", 0, "an MLP probe with this many hidden units (ReLU) instead of a linear one")
	epochs := fs.Int("epochs", probing.DefaultOptions().Epochs, "training epochs of every probe")
	lr := fs.Float64("lr", probing.DefaultOptions().LR, "the probes' learning rate (AdamW)")
	batch := fs.Int("batch-size", probing.DefaultOptions().BatchSize, "words per probe minibatch (arcs: a sixteenth as many sentences)")
	seed := fs.Uint64("seed", 0, "seed of the probes' initialisation, order and control labels")
	noControl := fs.Bool("no-control", false, "leave out the control tasks (halves the time; no selectivity)")
	label := fs.String("label", "", "the name of the source in plots and JSON (default: the run or checkpoint)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	svgOut := fs.String("svg", "", "write the plot (SVG) to this file; with --compare, files PREFIX-TASK.svg")
	compare := fs.String("compare", "", "comma-separated JSON reports of earlier probe commands: draw each task's layers across them")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *compare != "" {
		return compareReports(strings.Split(*compare, ","), *svgOut, stdout)
	}
	if (*config == "") == (*runDir == "") {
		return usageError{"give --config or --run (or --compare)"}
	}
	if *ckpt != "" && *config == "" {
		return usageError{"--model goes with --config"}
	}
	columns := probing.ParseTasks(*taskList)
	if len(columns) == 0 {
		return usageError{"--task: name at least one gold column"}
	}
	if *limit < 0 {
		return usageError{"--train-limit must not be negative"}
	}
	o := probing.Options{Hidden: *mlp, Epochs: *epochs, BatchSize: *batch, LR: *lr, WeightDecay: probing.DefaultOptions().WeightDecay, Seed: *seed}
	if err := o.Check(); err != nil {
		return usageError{err.Error()}
	}
	m, source, err := probeSource(*config, *ckpt, *runDir, *checkpoint)
	if err != nil {
		return err
	}
	d, err := m.Dataset(*dataset)
	if err != nil {
		return err
	}
	if d.Config.Dev == "" {
		return fmt.Errorf("dataset %s has no dev file to score the probes on", d.Name)
	}
	trainExs, err := readProbeExamples(m, d, d.Config.Train, *limit, stderr)
	if err != nil {
		return err
	}
	var ts []*probing.Task
	for _, c := range columns {
		t, err := probing.NewTask(c, d.Data, trainExs)
		if err != nil {
			return fmt.Errorf("--task: dataset %s: %w", d.Name, err)
		}
		ts = append(ts, t)
	}
	devExs, err := readProbeExamples(m, d, d.Config.Dev, 0, stderr)
	if err != nil {
		return err
	}
	train, err := probeFeatures(m, d, d.Config.Train, trainExs, stderr)
	if err != nil {
		return err
	}
	dev, err := probeFeatures(m, d, d.Config.Dev, devExs, stderr)
	if err != nil {
		return err
	}
	rep := &probing.Report{Label: *label, Source: source, Dataset: d.Name, Train: d.Config.Train, Dev: d.Config.Dev,
		TrainExamples: len(train.Examples), DevExamples: len(dev.Examples), Options: o, Control: !*noControl}
	if rep.Label == "" {
		rep.Label = source
	}
	for _, t := range ts {
		r, err := probing.Probe(t, train, dev, o, !*noControl, stderr)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, r)
		printProbe(stdout, r, !*noControl)
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.Write(*jsonOut, append(b, '\n')); err != nil {
			return err
		}
	}
	if *svgOut != "" {
		return atomicfile.Write(*svgOut, probing.Plot(rep))
	}
	return nil
}

// probeSource loads the model whose encoder is probed: a configuration's
// starting checkpoint (or another one), or a run's fine-tuned encoder.
func probeSource(config, ckpt, runDir, checkpoint string) (*model.Model, string, error) {
	if runDir != "" {
		m, err := finetune.Open(runDir, checkpoint)
		return m, runDir + " (" + checkpoint + ")", err
	}
	raw, err := os.ReadFile(config)
	if err != nil {
		return nil, "", err
	}
	cfg, err := finetune.ParseConfig(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", config, err)
	}
	if ckpt != "" {
		cfg.Model = ckpt
	}
	ck, err := loader.Open(cfg.Model)
	if err != nil {
		return nil, "", err
	}
	m, err := model.New(&cfg.Config, ck)
	if err != nil {
		return nil, "", err
	}
	if cfg.RandomInit {
		// The baseline every probing study needs: the same architecture
		// with nothing learned (seeded as fine-tuning seeds it).
		m.Encoder.InitWeights(rand.New(rand.NewPCG(cfg.Train.Seed, 0x1417)))
		return m, cfg.Model + " (random_init)", nil
	}
	return m, cfg.Model, nil
}

// readProbeExamples reads and encodes a file of dataset d (the first
// limit examples that the model takes, 0: all).
func readProbeExamples(m *model.Model, d *datasets.Dataset, path string, limit int, log io.Writer) ([]*tasks.Example, error) {
	exs, err := d.Read(path, log)
	if err != nil {
		return nil, err
	}
	kept := exs[:0]
	for _, ex := range exs {
		if len(ex.Words) <= m.MaxWords && (limit == 0 || len(kept) < limit) {
			kept = append(kept, ex)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s: no examples", path)
	}
	return kept, d.Encode(kept, path, m.Tok, m.MaxLength, m.Stride, log)
}

// probeFeatures computes every layer's features of examples read from
// path.
func probeFeatures(m *model.Model, d *datasets.Dataset, path string, exs []*tasks.Example, log io.Writer) (probing.Data, error) {
	start := time.Now()
	f, err := probing.Extract(m, d, exs)
	if err != nil {
		return probing.Data{}, err
	}
	fmt.Fprintf(log, "%s: states of %d examples in %s\n", path, len(exs), time.Since(start).Round(time.Millisecond))
	return probing.Data{Examples: exs, Features: f}, nil
}

// printProbe prints one task's table and summaries.
func printProbe(w io.Writer, r *probing.Result, control bool) {
	fmt.Fprintf(w, "%s (%s on dev)\n", r.Task, r.Metric)
	if control {
		fmt.Fprintf(w, "  %-6s %8s %8s %8s %10s %7s\n", "state", "probe", "control", "select.", "mix 0..l", "gain")
	} else {
		fmt.Fprintf(w, "  %-6s %8s %10s %7s\n", "state", "probe", "mix 0..l", "gain")
	}
	for _, ly := range r.Layers {
		name := fmt.Sprint(ly.Layer)
		if ly.Layer == 0 {
			name = "emb"
		}
		if control {
			fmt.Fprintf(w, "  %-6s %8.2f %8.2f %8.2f %10.2f %7.2f\n", name, ly.Score, ly.Control, ly.Selectivity, ly.Cumulative, ly.Gain)
		} else {
			fmt.Fprintf(w, "  %-6s %8.2f %10.2f %7.2f\n", name, ly.Score, ly.Cumulative, ly.Gain)
		}
	}
	exp := "none (no layer gains)"
	if r.ExpectedLayer != nil {
		exp = fmt.Sprintf("%.2f", *r.ExpectedLayer)
	}
	fmt.Fprintf(w, "  best state %d; expected layer %s; center of gravity %.2f (mix %s)\n", r.Best, exp, r.CenterOfGravity, weights(r.Mix))
}

func weights(v []float64) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(parts, " ")
}

// compareReports draws each task of the reports in files across them.
func compareReports(files []string, prefix string, stdout io.Writer) error {
	if prefix == "" {
		return usageError{"--compare needs --svg PREFIX"}
	}
	var reps []*probing.Report
	var order []string
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(strings.TrimSpace(f))
		if err != nil {
			return err
		}
		var r probing.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: not a probe report: %w", f, err)
		}
		if len(r.Results) == 0 {
			return fmt.Errorf("%s: not a probe report (no results)", f)
		}
		for _, res := range r.Results {
			if !seen[res.Task] {
				seen[res.Task] = true
				order = append(order, res.Task)
			}
		}
		reps = append(reps, &r)
	}
	for _, task := range order {
		out := prefix + "-" + task + ".svg"
		if err := atomicfile.Write(out, probing.Compare(task, reps)); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "wrote", out)
	}
	return nil
}
