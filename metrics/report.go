package metrics

import "fmt"

// A Reporter is a set of scores that can be logged under fixed keys.
type Reporter interface {
	Report() map[string]float64
}

// Report returns the F1 of every UD metric, which for the metrics over all
// words is the accuracy, under the keys "upos", "xpos", "ufeats",
// "alltags", "lemmas", "uas", "las", "clas", "mlas", "blex" and
// "las_full".
func (s UDScores) Report() map[string]float64 {
	return map[string]float64{
		"upos":     s.UPOS.F1,
		"xpos":     s.XPOS.F1,
		"ufeats":   s.UFeats.F1,
		"alltags":  s.AllTags.F1,
		"lemmas":   s.Lemmas.F1,
		"uas":      s.UAS.F1,
		"las":      s.LAS.F1,
		"clas":     s.CLAS.F1,
		"mlas":     s.MLAS.F1,
		"blex":     s.BLEX.F1,
		"las_full": s.LASFull.F1,
	}
}

// Report returns the micro-averaged scores under the keys "ner_precision",
// "ner_recall" and "ner_f1".
func (s SpanScores) Report() map[string]float64 {
	return map[string]float64{
		"ner_precision": s.Precision,
		"ner_recall":    s.Recall,
		"ner_f1":        s.F1,
	}
}

// Report returns the scores under the keys "accuracy" and "macro_f1", and,
// when s has a positive label, its F1 under "f1" (the key of GLUE's binary
// F1 in HuggingFace's run_glue).
func (s ClassScores) Report() map[string]float64 {
	m := map[string]float64{
		"accuracy": s.Accuracy,
		"macro_f1": s.MacroF1,
	}
	if s.Positive != "" {
		m["f1"] = s.Binary.F1
	}
	return m
}

// Report merges the reports of scores into one map, for instance to log
// the scores of several tasks as one JSON object. It returns an error if
// two of them use the same key.
func Report(scores ...Reporter) (map[string]float64, error) {
	out := make(map[string]float64)
	for i, s := range scores {
		for k, v := range s.Report() {
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("metrics: report %d repeats the key %q", i, k)
			}
			out[k] = v
		}
	}
	return out, nil
}
