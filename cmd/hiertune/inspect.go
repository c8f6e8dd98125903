package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/internal/atomicfile"
)

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", "inspect --run DIR [--checkpoint best] [--data FILE --dataset NAME] [--json OUT.json]", stdout, stderr)
	runDir := fs.String("run", "", "a fine-tuning run directory")
	checkpoint := fs.String("checkpoint", "best", "which checkpoint: best, latest, or a step-NNNNNNN name")
	data := fs.String("data", "", "a file of one of the run's datasets, to average attention mixes over its tokens")
	dataset := fs.String("dataset", "", "which dataset --data belongs to (needed when the run has several)")
	jsonOut := fs.String("json", "", "also write the readings as JSON to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runDir == "" {
		return usageError{"--run is required"}
	}
	m, err := finetune.Open(*runDir, *checkpoint, stderr)
	if err != nil {
		return err
	}
	readings, err := m.Inspect(*dataset, *data)
	if err != nil {
		return err
	}
	for _, r := range readings {
		if r.Mode == "" {
			fmt.Fprintf(stdout, "%s: reads layer %d\n", r.Task, r.Layer)
			continue
		}
		what := "layers"
		if r.Diff {
			what = "layer differences"
		}
		fmt.Fprintf(stdout, "%s: %s mix of %s %v\n", r.Task, r.Mode, what, r.Layers)
		if r.Static != nil {
			fmt.Fprintf(stdout, "  weights:        %s\n", row(r.Layers, r.Static))
		}
		if r.Mean != nil {
			fmt.Fprintf(stdout, "  mean attention: %s  (%d tokens)\n", row(r.Layers, r.Mean), r.Tokens)
		}
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(readings, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.Write(*jsonOut, append(b, '\n'))
	}
	return nil
}

func row(layers []int, v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("L%d %.3f", layers[i], x)
	}
	return strings.Join(parts, "  ")
}
