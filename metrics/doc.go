// Package metrics computes the evaluation scores of hiertune's fine-tuning
// tasks exactly as the field computes them:
//
//   - UD computes the CoNLL 2018 shared task metrics of conll18_ud_eval.py
//     (UPOS, XPOS, UFeats, AllTags, Lemmas, UAS, LAS, CLAS, MLAS, BLEX) on
//     gold tokenization.
//   - Spans computes span-level NER precision, recall and F1 as seqeval
//     does, in its default (conlleval) mode or in its strict mode.
//   - Classify computes accuracy, per-class and macro F1 and the F1 of a
//     positive label as scikit-learn does (GLUE's accuracy and F1).
//
// Report turns any of these into a flat map with fixed keys, for logging as
// JSON and for selecting checkpoints.
//
// The inputs are plain Go values. Gold and prediction must have the same
// shape: a length mismatch is an error that names the sentence. Input with
// nothing to score is an error wrapping ErrEmpty; otherwise a ratio whose
// denominator is zero is 0, as in the reference implementations, so no
// score is ever NaN.
package metrics

import "errors"

// ErrEmpty is returned (wrapped) when the input holds nothing to score: no
// sentences, no words or tokens, or no labels.
var ErrEmpty = errors.New("metrics: nothing to score")

// ErrShape is returned (wrapped) when gold and prediction differ in the
// number of sentences, words, tokens or labels.
var ErrShape = errors.New("metrics: gold and prediction differ in shape")

// ratio returns num/den, or 0 when den is 0.
func ratio(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}
