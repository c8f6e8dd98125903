// Package decode holds the decoding algorithms of hiertune's task heads, on
// plain Go slices: maximum spanning trees (Chu-Liu/Edmonds) and projective
// trees (Eisner) for dependency parsing, and Viterbi decoding, the forward
// algorithm and the negative log-likelihood gradient of a linear-chain CRF
// for sequence labelling.
//
// # Dependency trees
//
// Arc scores come as an (n+1)×(n+1) matrix where scores[d][h] scores head h
// for dependent d; index 0 is ROOT and row 0 is ignored. A decoded tree is a
// slice heads of length n+1 with heads[0] = -1 and heads[d] in [0, n] for
// every word d ≥ 1. Like Universal Dependencies, the decoders attach exactly
// one word to ROOT.
//
// The tree decoders accept any scores. NaN counts as -Inf. Trees are ranked
// first by how many -Inf arcs they use (fewer is better), then by how many
// +Inf arcs (more is better), then by the sum of their finite scores, so a
// decoder always returns a tree, and one without -Inf arcs whenever there is
// one. Ties are broken deterministically.
//
// # Sequence labelling
//
// A linear-chain CRF over K labels scores a label sequence y of a sequence
// of n positions as
//
//	start[y₀] + Σₜ emissions[t][yₜ] + Σₜ₌₁ trans[yₜ₋₁][yₜ] + end[yₙ₋₁]
//
// where emissions is n×K, trans K×K (trans[i][j]: label j right after label
// i), and start and end have K entries. The empty sequence (n = 0) has the
// single, empty labelling, with score 0. Viterbi decodes, optionally under
// Constraints such as those of IOB2Constraints; LogPartition and CRFNLL
// serve training.
package decode
