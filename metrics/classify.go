package metrics

import (
	"fmt"
	"slices"
)

// ClassScores holds sequence-classification scores.
type ClassScores struct {
	Accuracy float64 // Correct / Total
	Correct  int     // examples whose predicted label is the gold one
	Total    int     // examples

	// MacroF1 is the unweighted mean of the per-class F1 over every label
	// found in gold or prediction (scikit-learn's f1_score with
	// average='macro').
	MacroF1 float64
	// PerClass has an entry for every label found in gold or prediction;
	// a label found only in the prediction has Support 0 and F1 0.
	PerClass map[string]PRF

	// Positive is the positive label of a binary task ("" if none), and
	// Binary its scores (scikit-learn's average='binary'; GLUE's F1 for
	// MRPC and QQP).
	Positive string
	Binary   PRF
}

// Classify scores predicted labels against gold ones, one per example.
// positive names the positive label of a binary task, or is "" for none;
// it must occur in gold or pred, which catches a misspelt label that would
// otherwise score an F1 of 0. A predicted label unknown to gold counts as
// wrong and, as in scikit-learn, as a class of its own in MacroF1.
// Classify returns an error wrapping ErrShape when the lengths differ, and
// one wrapping ErrEmpty when there are no examples.
func Classify(gold, pred []string, positive string) (ClassScores, error) {
	if len(gold) != len(pred) {
		return ClassScores{}, fmt.Errorf("%w: %d gold labels, %d predicted", ErrShape, len(gold), len(pred))
	}
	if len(gold) == 0 {
		return ClassScores{}, fmt.Errorf("%w: no labels", ErrEmpty)
	}
	type counts struct{ tp, gold, pred int }
	perClass := make(map[string]counts)
	correct := 0
	for i, g := range gold {
		p := pred[i]
		cg := perClass[g]
		cg.gold++
		if p == g {
			correct++
			cg.tp++
		}
		perClass[g] = cg
		cp := perClass[p]
		cp.pred++
		perClass[p] = cp
	}
	if _, ok := perClass[positive]; positive != "" && !ok {
		return ClassScores{}, fmt.Errorf("metrics: positive label %q occurs in neither gold nor predictions", positive)
	}

	s := ClassScores{
		Accuracy: ratio(correct, len(gold)),
		Correct:  correct,
		Total:    len(gold),
		PerClass: make(map[string]PRF, len(perClass)),
		Positive: positive,
	}
	labels := make([]string, 0, len(perClass))
	for label, c := range perClass {
		s.PerClass[label] = newPRF(c.tp, c.pred-c.tp, c.gold-c.tp)
		labels = append(labels, label)
	}
	// Summing in sorted order, as scikit-learn does, makes the result
	// independent of map order.
	slices.Sort(labels)
	sum := 0.0
	for _, label := range labels {
		sum += s.PerClass[label].F1
	}
	s.MacroF1 = sum / float64(len(labels))
	if positive != "" {
		s.Binary = s.PerClass[positive]
	}
	return s, nil
}
