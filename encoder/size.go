package encoder

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"strconv"
)

// ParamShape is a parameter as New creates it: its checkpoint key, its
// shape as PyTorch stores it, and for each dimension the config.json key
// that sets it.
type ParamShape struct {
	Name  string
	Shape []int
	Keys  []string
}

// ParamShapes returns the parameters New(c, withPooler) would create, in
// the order of NamedParams, without allocating them. The list grows with
// NumHiddenLayers: bound that first (against the tensors of a checkpoint,
// or with CheckSize).
func (c *Config) ParamShapes(withPooler bool) []ParamShape {
	const vocab, hidden, inter = "vocab_size", "hidden_size", "intermediate_size"
	H, E, I := c.HiddenSize, c.EmbeddingWidth(), c.IntermediateSize
	emb := hidden // the key that sets E
	if c.EmbeddingSize > 0 {
		emb = "embedding_size"
	}
	var ps []ParamShape
	add := func(name string, dims ...any) {
		p := ParamShape{Name: name}
		for i := 0; i < len(dims); i += 2 {
			p.Shape = append(p.Shape, dims[i].(int))
			p.Keys = append(p.Keys, dims[i+1].(string))
		}
		ps = append(ps, p)
	}
	lin := func(name string, in int, inKey string, out int, outKey string) {
		add(name+".weight", out, outKey, in, inKey)
		add(name+".bias", out, outKey)
	}
	ln := func(name string, n int, key string) {
		add(name+".weight", n, key)
		add(name+".bias", n, key)
	}
	add("embeddings.word_embeddings.weight", c.VocabSize, vocab, E, emb)
	add("embeddings.position_embeddings.weight", c.MaxPositionEmbeddings, "max_position_embeddings", E, emb)
	add("embeddings.token_type_embeddings.weight", c.TypeVocabSize, "type_vocab_size", E, emb)
	ln("embeddings.LayerNorm", E, emb)
	if E != H {
		lin("embeddings_project", E, emb, H, hidden)
	}
	for i := range c.NumHiddenLayers {
		p := "encoder.layer." + strconv.Itoa(i) + "."
		for _, n := range []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"} {
			lin(p+n, H, hidden, H, hidden)
		}
		ln(p+"attention.output.LayerNorm", H, hidden)
		lin(p+"intermediate.dense", H, hidden, I, inter)
		lin(p+"output.dense", I, inter, H, hidden)
		ln(p+"output.LayerNorm", H, hidden)
	}
	if withPooler {
		lin("pooler.dense", H, hidden, H, hidden)
	}
	return ps
}

// paramOverhead is what New allocates per parameter beside its values: the
// parameter, its matrix and its share of the module structs (about 215
// bytes measured, rounded up). modelOverhead covers the rest, such as the
// runtime's own allocations while New runs (some 25 KiB measured).
const (
	paramOverhead = 256
	modelOverhead = 64 << 10
)

// ModelBytes bounds the bytes New(c, withPooler) allocates from above, by
// at most about a quarter for any real model: 4 per parameter value,
// rounded up as Go's allocator may, plus a small overhead per parameter
// and per model. Gradients and
// optimiser state, allocated when training, are the caller's to add. The
// count saturates at math.MaxUint64 rather than overflow.
func (c *Config) ModelBytes(withPooler bool) uint64 {
	u := func(v int) uint64 { return uint64(max(v, 0)) }
	V, P, T := u(c.VocabSize), u(c.MaxPositionEmbeddings), u(c.TypeVocabSize)
	H, E, I, L := u(c.HiddenSize), u(c.EmbeddingWidth()), u(c.IntermediateSize), u(c.NumHiddenLayers)
	// params returns the bytes of count parameters of n values each.
	params := func(count, n uint64) uint64 {
		return mul(count, sum(allocated(mul(4, n)), paramOverhead))
	}
	total := sum(modelOverhead, params(1, mul(V, E)), params(1, mul(P, E)), params(1, mul(T, E)), params(2, E))
	if E != H {
		total = sum(total, params(1, mul(E, H)), params(1, H))
	}
	// Four H×H projections, the two feed-forward weights, nine H-vectors
	// (biases and LayerNorms) and the intermediate bias.
	layer := sum(params(4, mul(H, H)), params(2, mul(H, I)), params(9, H), params(1, I))
	total = sum(total, mul(L, layer))
	if withPooler {
		total = sum(total, params(1, mul(H, H)), params(1, H))
	}
	return total
}

// allocated bounds what Go's allocator takes for an object of n bytes:
// small objects are rounded up to a size class (less than a quarter more),
// large ones to whole 8 KiB pages.
func allocated(n uint64) uint64 {
	if n <= 32<<10 {
		return n + n/4 + 16
	}
	return sum(n, 8<<10-1) &^ (8<<10 - 1)
}

// mul and sum saturate at math.MaxUint64.
func mul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

func sum(vs ...uint64) uint64 {
	var s uint64
	for _, v := range vs {
		var carry uint64
		if s, carry = bits.Add64(s, v, 0); carry != 0 {
			return math.MaxUint64
		}
	}
	return s
}

// MaxModelBytesEnv names the environment variable that sets the most bytes
// a model may take (see CheckSize), in place of the memory the machine has.
const MaxModelBytesEnv = "HIERTUNE_MAX_MODEL_BYTES"

// MaxModelBytes, when positive, is the most bytes a model may take (see
// CheckSize); it takes precedence over $HIERTUNE_MAX_MODEL_BYTES. A command
// may set it from a flag.
var MaxModelBytes int64

// MemoryLimit returns the most bytes a model may take and what sets that
// limit: MaxModelBytes if positive, else $HIERTUNE_MAX_MODEL_BYTES (a number
// of bytes) if set, else the memory this process can still get. On Linux
// that is the smallest of MemAvailable in /proc/meminfo (MemTotal on
// kernels without it), what the cgroup's memory limit leaves and what the
// address-space limit (ulimit -v) leaves; elsewhere, the machine's physical
// memory where known, else 1 TiB, which still stops absurd configurations.
func MemoryLimit() (uint64, string, error) {
	if MaxModelBytes > 0 {
		return uint64(MaxModelBytes), "encoder.MaxModelBytes", nil
	}
	if v, ok := os.LookupEnv(MaxModelBytesEnv); ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return 0, "", fmt.Errorf("%s=%q: want a positive number of bytes", MaxModelBytesEnv, v)
		}
		return n, MaxModelBytesEnv, nil
	}
	if n, source := systemMemory(); n > 0 {
		return n, source, nil
	}
	return 1 << 40, "a default for systems whose memory is unknown", nil
}

// ErrTooLarge is wrapped by the errors of CheckSize and New for a model
// that would not fit in memory.
var ErrTooLarge = errors.New("model too large for the memory available")

// CheckSize returns an error, wrapping ErrTooLarge, if a model of
// configuration c (with a pooler if withPooler) would take more bytes than
// MemoryLimit allows. The error names the config.json key that makes the
// model largest, so that a corrupt or hostile size is refused before any
// allocation. New calls it.
func (c *Config) CheckSize(withPooler bool) error {
	need := c.ModelBytes(withPooler)
	limit, source, err := MemoryLimit()
	if err != nil {
		return err
	}
	if need <= limit {
		return nil
	}
	what := "a model of this configuration"
	if key, v := c.largestSize(withPooler); key != "" {
		what = fmt.Sprintf("%s %d makes a model that", key, v)
	}
	return fmt.Errorf("%w: %s would take %s, more than the %s allowed (%s); set %s to change the limit",
		ErrTooLarge, what, formatBytes(need), formatBytes(limit), source, MaxModelBytesEnv)
}

// sizeKeys are the config.json keys that size the model, with their
// BERT-base values (embedding_size's 0 means hidden_size).
var sizeKeys = []struct {
	name  string
	field func(*Config) *int
	base  int
}{
	{"vocab_size", func(c *Config) *int { return &c.VocabSize }, base.VocabSize},
	{"hidden_size", func(c *Config) *int { return &c.HiddenSize }, base.HiddenSize},
	{"embedding_size", func(c *Config) *int { return &c.EmbeddingSize }, 0},
	{"num_hidden_layers", func(c *Config) *int { return &c.NumHiddenLayers }, base.NumHiddenLayers},
	{"intermediate_size", func(c *Config) *int { return &c.IntermediateSize }, base.IntermediateSize},
	{"max_position_embeddings", func(c *Config) *int { return &c.MaxPositionEmbeddings }, base.MaxPositionEmbeddings},
	{"type_vocab_size", func(c *Config) *int { return &c.TypeVocabSize }, base.TypeVocabSize},
}

// largestSize returns the size key of c, and its value, which set back to
// BERT-base's value would shrink the model most; "" if none is larger than
// BERT-base's.
func (c *Config) largestSize(withPooler bool) (string, int) {
	key, val, least := "", 0, c.ModelBytes(withPooler)
	for _, k := range sizeKeys {
		v := *k.field(c)
		if v <= k.base {
			continue
		}
		d := *c
		*k.field(&d) = k.base
		if n := d.ModelBytes(withPooler); n < least {
			key, val, least = k.name, v, n
		}
	}
	return key, val
}

// formatBytes writes n in binary units, such as "3.5 GiB".
func formatBytes(n uint64) string {
	if n < 1<<10 {
		return strconv.FormatUint(n, 10) + " bytes"
	}
	f, unit := float64(n)/(1<<10), 0
	for f >= 1<<10 && unit < 5 {
		f, unit = f/(1<<10), unit+1
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[unit]
}
