package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/internal/svg"
)

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", "inspect --run DIR [--checkpoint best] [--data FILE --dataset NAME] [--json OUT.json]\n       hiertune inspect --hierarchy --run DIR (--data FILE | --text \"A sentence.\" ...) [--layers 2,3] [--sentences 3] [--svg DIR] [--json OUT.json]\n       hiertune inspect --swap --run DIR --data FILE [--swap-pairs 200] [--json OUT.json]\n       hiertune inspect --pairs --run DIR --text \"A sentence.\" [--layers 1] --svg DIR", stdout, stderr)
	runDir := fs.String("run", "", "a fine-tuning run directory")
	checkpoint := fs.String("checkpoint", "best", "which checkpoint: best, latest, or a step-NNNNNNN name")
	data := fs.String("data", "", "a file of one of the run's datasets, to average attention mixes over its tokens")
	dataset := fs.String("dataset", "", "which dataset --data belongs to (needed when the run has several)")
	jsonOut := fs.String("json", "", "also write the readings as JSON to this file")
	svgOut := fs.String("svg", "", "write a heatmap of the depth-mixing weights (SVG) to this file; with --hierarchy, a directory for the dendrograms")
	pairView := fs.Bool("pairs", false, "draw the attention bias the run's pair states give each head of --layers (one layer) on the pieces of --text, as heatmaps in --svg DIR")
	swap := fs.Bool("swap", false, "join consecutive sentences of --data two by two and report how much each word's states and predictions change between \"A B\" and \"B A\" (pair states without absolute positions: not at all)")
	swapLimit := fs.Int("swap-pairs", 200, "with --swap: at most this many pairs of sentences (0: all)")
	hier := fs.Bool("hierarchy", false, "show the hierarchy the run's hierarchy vectors induce on --data: dendrograms of its first sentences beside their gold trees, and over the file the H distances' spread and agreement with the trees")
	layers := fs.String("layers", "", "with --hierarchy: comma-separated hidden states (default: every one with hierarchy vectors)")
	sentences := fs.Int("sentences", 3, "with --hierarchy: how many sentences' dendrograms to show")
	var texts repeatedFlag
	fs.Var(&texts, "text", "with --hierarchy: a sentence (words split at spaces) whose dendrograms to show, instead of --data (repeatable; no gold tree)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runDir == "" {
		return usageError{"--run is required"}
	}
	if !*hier && !*pairView && (*layers != "" || *sentences != 3 || len(texts) > 0) {
		return usageError{"--layers, --sentences and --text go with --hierarchy (--layers and --text also with --pairs)"}
	}
	m, err := finetune.Open(*runDir, *checkpoint)
	if err != nil {
		return err
	}
	if *pairView {
		layer := 0
		if *layers != "" {
			if layer, err = strconv.Atoi(strings.TrimSpace(*layers)); err != nil {
				return usageError{fmt.Sprintf("--layers %q: with --pairs, one layer", *layers)}
			}
		}
		return inspectPairs(m, strings.Join(texts, " "), layer, *svgOut, stdout)
	}
	if *swap {
		return inspectSwap(m, *dataset, *data, *swapLimit, *jsonOut, stdout, stderr)
	}
	if *hier {
		return inspectHierarchy(m, hierarchyOptions{data: *data, dataset: *dataset, layers: *layers, sentences: *sentences, texts: texts, svgDir: *svgOut, jsonOut: *jsonOut}, stdout, stderr)
	}
	ins, err := m.Inspect(*dataset, *data)
	if err != nil {
		return err
	}
	for _, r := range ins.Tasks {
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
	depth := ins.Depth
	if depth != nil {
		what := "static weights"
		if ins.DepthTokens > 0 {
			what = fmt.Sprintf("static weights + gate × attention, averaged over %d tokens", ins.DepthTokens)
		}
		fmt.Fprintf(stdout, "depth mixing: each layer's weights over the embeddings (emb) and earlier layers (%s)\n", what)
		for i, r := range depth {
			var parts []string
			for j, v := range r {
				parts = append(parts, fmt.Sprintf("%s %.3f", stateName(j), v))
			}
			gate := ""
			if ins.DepthGates != nil {
				gate = fmt.Sprintf("  (gate %.3f)", ins.DepthGates[i])
			}
			fmt.Fprintf(stdout, "  layer %d reads: %s%s\n", i+2, strings.Join(parts, "  "), gate)
		}
	}
	if *svgOut != "" {
		if depth == nil {
			return fmt.Errorf("--svg: the run has no depth mixing")
		}
		rows, cols := make([]string, len(depth)), make([]string, len(depth)+1)
		cells := make([][]float64, len(depth))
		for i := range rows {
			rows[i] = fmt.Sprintf("layer %d", i+2)
			cells[i] = slices.Grow(slices.Clone(depth[i]), len(cols))
			for len(cells[i]) < len(cols) {
				cells[i] = append(cells[i], math.NaN()) // a state above the layer: blank
			}
		}
		for j := range cols {
			cols[j] = stateName(j)
		}
		title := fmt.Sprintf("Depth-mixing weights (%s): rows read columns", *runDir)
		if err := atomicfile.Write(*svgOut, svg.Heatmap(title, rows, cols, cells)); err != nil {
			return err
		}
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(ins, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.Write(*jsonOut, append(b, '\n'))
	}
	return nil
}

// stateName names hidden state j: the embeddings or a layer.
func stateName(j int) string {
	if j == 0 {
		return "emb"
	}
	return fmt.Sprintf("L%d", j)
}

func row(layers []int, v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("L%d %.3f", layers[i], x)
	}
	return strings.Join(parts, "  ")
}
