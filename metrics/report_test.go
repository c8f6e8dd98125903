package metrics

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	ud := UDScores{
		UPOS: Score{F1: 0.1}, XPOS: Score{F1: 0.2}, UFeats: Score{F1: 0.3}, AllTags: Score{F1: 0.4},
		Lemmas: Score{F1: 0.5}, UAS: Score{F1: 0.6}, LAS: Score{F1: 0.7}, CLAS: Score{F1: 0.8},
		MLAS: Score{F1: 0.9}, BLEX: Score{F1: 0.95}, LASFull: Score{F1: 0.65},
	}
	ner := SpanScores{PRF: PRF{Precision: 0.25, Recall: 0.5, F1: 1.0 / 3}}
	cls := ClassScores{Accuracy: 0.75, MacroF1: 0.7}
	mrpc := ClassScores{Accuracy: 0.8, MacroF1: 0.6, Positive: "1", Binary: PRF{F1: 0.85}}

	for _, c := range []struct {
		name string
		r    Reporter
		want map[string]float64
	}{
		{"UD", ud, map[string]float64{"upos": 0.1, "xpos": 0.2, "ufeats": 0.3, "alltags": 0.4, "lemmas": 0.5,
			"uas": 0.6, "las": 0.7, "clas": 0.8, "mlas": 0.9, "blex": 0.95, "las_full": 0.65}},
		{"NER", ner, map[string]float64{"ner_precision": 0.25, "ner_recall": 0.5, "ner_f1": 1.0 / 3}},
		{"classification", cls, map[string]float64{"accuracy": 0.75, "macro_f1": 0.7}},
		{"binary classification", mrpc, map[string]float64{"accuracy": 0.8, "macro_f1": 0.6, "f1": 0.85}},
	} {
		if got := c.r.Report(); !maps.Equal(got, c.want) {
			t.Errorf("%s: Report() = %v, want %v", c.name, got, c.want)
		}
	}

	all, err := Report(ud, ner, mrpc)
	if err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(all))
	want := []string{"accuracy", "alltags", "blex", "clas", "f1", "las", "las_full", "lemmas", "macro_f1", "mlas",
		"ner_f1", "ner_precision", "ner_recall", "uas", "ufeats", "upos", "xpos"}
	if !slices.Equal(keys, want) || all["ner_f1"] != 1.0/3 || all["f1"] != 0.85 || all["las"] != 0.7 {
		t.Errorf("Report(ud, ner, mrpc) = %v", all)
	}
	if empty, err := Report(); err != nil || len(empty) != 0 {
		t.Errorf("Report() = %v, %v; want an empty map", empty, err)
	}
	if _, err := Report(cls, mrpc); err == nil || !strings.Contains(err.Error(), `report 1 repeats the key "accuracy"`) &&
		!strings.Contains(err.Error(), `report 1 repeats the key "macro_f1"`) {
		t.Errorf("Report(cls, mrpc): error %v, want a repeated key", err)
	}
}
