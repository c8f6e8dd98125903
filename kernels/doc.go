// Package kernels holds hiertune's fused, batched tensor operations.
//
// Every operation works on whole batches laid out as one row-major matrix
// ([batch·seq, hidden]) and exists twice: as a plain function on float32
// slices, and as a spago autograd operator (an ag.AutoGradFunction, built by
// the exported constructors such as Linear, Attention and LayerNorm) whose
// backward pass is checked against finite differences in the tests.
//
// Two backends implement the primitives. The native one (cgo, the default)
// multiplies matrices with OpenBLAS, opened at run time with dlopen, and runs
// the element-wise and attention loops in C compiled for AVX-512, AVX2 or
// baseline x86-64, chosen at load time. The pure-Go one (CGO_ENABLED=0 or the
// purego build tag) uses gonum's matrix product and Go loops: slower, equally
// correct, and the reference the native code is tested against.
//
// Work is split across Threads() goroutines; OpenBLAS itself runs
// single-threaded so that it never competes with them for the cores.
package kernels
