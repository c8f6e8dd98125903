package probing

import (
	"fmt"
	"math"
	"strconv"

	"github.com/hiertune/hiertune/internal/svg"
)

// Report is what one probe command found: where the states came from and
// each task's result. It is the command's JSON output and what Compare
// draws.
type Report struct {
	// Label names the source in plots (default: Source).
	Label  string `json:"label"`
	Source string `json:"source"`
	// Dataset, Train and Dev say what was probed; TrainExamples and
	// DevExamples how many examples.
	Dataset       string    `json:"dataset"`
	Train         string    `json:"train"`
	Dev           string    `json:"dev"`
	TrainExamples int       `json:"train_examples"`
	DevExamples   int       `json:"dev_examples"`
	Options       Options   `json:"options"`
	Control       bool      `json:"control"`
	Results       []*Result `json:"results"`
}

// layerNames labels hidden states: "emb", then the layers.
func layerNames(states int) []string {
	xs := []string{"emb"}
	for l := 1; l < states; l++ {
		xs = append(xs, strconv.Itoa(l))
	}
	return xs
}

func mark(r *Result) float64 {
	if r.ExpectedLayer == nil {
		return math.NaN()
	}
	return *r.ExpectedLayer
}

// Plot draws a report: each task's per-layer dev score (solid), its control
// task's (dashed, same colour), and its expected layer as a mark on the x
// axis.
func Plot(r *Report) []byte {
	var series []svg.Series
	states := 0
	for i, res := range r.Results {
		states = max(states, len(res.Layers))
		score, control := make([]float64, len(res.Layers)), make([]float64, len(res.Layers))
		for l, ly := range res.Layers {
			score[l], control[l] = ly.Score, ly.Control
		}
		series = append(series, svg.Series{Name: fmt.Sprintf("%s (%s), E[layer] %s", res.Task, res.Metric, expected(res)), Values: score, Group: i, Mark: mark(res)})
		if r.Control {
			series = append(series, svg.Series{Name: res.Task + " control", Values: control, Dashed: true, Group: i, Mark: math.NaN()})
		}
	}
	return svg.Lines("Probing "+r.Label+" on "+r.Dataset, "hidden state", "dev score (%)", layerNames(states), series, true)
}

// Compare draws the results of one task from several reports (one line
// per report, its selectivity dashed), to compare encoders or runs.
func Compare(task string, reports []*Report) []byte {
	var series []svg.Series
	states := 0
	for i, r := range reports {
		for _, res := range r.Results {
			if res.Task != task {
				continue
			}
			states = max(states, len(res.Layers))
			score, sel := make([]float64, len(res.Layers)), make([]float64, len(res.Layers))
			for l, ly := range res.Layers {
				score[l], sel[l] = ly.Score, ly.Selectivity
			}
			series = append(series, svg.Series{Name: fmt.Sprintf("%s, E[layer] %s", r.Label, expected(res)), Values: score, Group: i, Mark: mark(res)})
			if r.Control {
				series = append(series, svg.Series{Name: r.Label + " selectivity", Values: sel, Dashed: true, Group: i, Mark: math.NaN()})
			}
		}
	}
	return svg.Lines("Probing "+task+": score (solid) and selectivity (dashed)", "hidden state", "dev score (%)", layerNames(states), series, true)
}

func expected(r *Result) string {
	if r.ExpectedLayer == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", *r.ExpectedLayer)
}
