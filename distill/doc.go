// Package distill makes small encoders from large ones (knowledge
// distillation): TinyBERT's general distillation on raw text (stage 1:
// embedding, hidden-state and attention-score losses) and its
// task-specific distillation from a fine-tuned hiertune run (stage 2:
// intermediate layers first, then the predictions, with soft targets at a
// temperature plus the gold labels), with the teacher's tasks mapped to the
// student's layers at the same relative depth, so the student keeps the
// task hierarchy. Several tasks learn at once from one multi-task teacher
// (MKD) or each from its own teacher.
//
// The student of stage 2 is an ordinary fine-tuning run directory, which
// hiertune's eval, predict and export commands read.
package distill
