package encoder

import (
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParamShapesMatchNew guards the size estimate and the checkpoint
// checks against drifting from New: ParamShapes must list exactly the
// parameters New creates, and ModelBytes must bound what New allocates.
func TestParamShapesMatchNew(t *testing.T) {
	electra := Presets["micro"]
	electra.ModelType, electra.EmbeddingSize = "electra", 16
	deep := Presets["micro"]
	deep.HiddenSize, deep.NumAttentionHeads, deep.IntermediateSize, deep.NumHiddenLayers = 4, 1, 4, 300
	for name, cfg := range map[string]Config{"micro": Presets["micro"], "bert-tiny": Presets["bert-tiny"], "electra": electra, "deep and narrow": deep} {
		for _, pooler := range []bool{false, true} {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			m, err := New(cfg, pooler)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			nps, shapes := m.NamedParams(), cfg.ParamShapes(pooler)
			if len(nps) != len(shapes) {
				t.Fatalf("%s (pooler %v): New makes %d parameters, ParamShapes lists %d", name, pooler, len(nps), len(shapes))
			}
			want := uint64(modelOverhead)
			for i, np := range nps {
				s := shapes[i]
				if s.Name != np.Name || !slices.Equal(s.Shape, np.Shape) || len(s.Keys) != len(s.Shape) {
					t.Fatalf("%s: parameter %d is %s%v, ParamShapes says %s%v (keys %v)", name, i, np.Name, np.Shape, s.Name, s.Shape, s.Keys)
				}
				n := uint64(4)
				for _, d := range s.Shape {
					n *= uint64(d)
				}
				want += allocated(n) + paramOverhead
			}
			est := cfg.ModelBytes(pooler)
			if est != want {
				t.Errorf("%s: ModelBytes = %d, want %d", name, est, want)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > est || float64(est) > 1.3*float64(got)+modelOverhead {
				t.Errorf("%s (pooler %v): New allocated %d bytes, ModelBytes estimates %d", name, pooler, got, est)
			}
			runtime.KeepAlive(m)
		}
	}
}

// TestNewRefusesModelsTooLargeForMemory guards against sizes from a
// config.json (or a preset edited for pretraining) that used to end in
// "fatal error: out of memory" or allocate without bound: New must refuse
// them at once, naming the key.
func TestNewRefusesModelsTooLargeForMemory(t *testing.T) {
	for _, tc := range []struct {
		key  string
		edit func(*Config)
	}{
		{"hidden_size", func(c *Config) { c.HiddenSize, c.NumAttentionHeads = 1e9, 1 }},
		{"vocab_size", func(c *Config) { c.VocabSize = 1e12 }},
		{"max_position_embeddings", func(c *Config) { c.MaxPositionEmbeddings = 1e12 }},
		{"num_hidden_layers", func(c *Config) { c.NumHiddenLayers = 1e9 }},
		{"intermediate_size", func(c *Config) { c.IntermediateSize = math.MaxInt }},
		{"type_vocab_size", func(c *Config) { c.TypeVocabSize = 1 << 62 }},
	} {
		cfg := Presets["micro"]
		tc.edit(&cfg)
		start := time.Now()
		_, err := New(cfg, true)
		if !errors.Is(err, ErrTooLarge) || !strings.HasPrefix(err.Error(), "model too large for the memory available: "+tc.key+" ") ||
			!strings.Contains(err.Error(), MaxModelBytesEnv) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: New error = %v, want a one-line ErrTooLarge naming %s", tc.key, err, tc.key)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: refusing took %v", tc.key, d)
		}
	}
}

// TestMemoryLimitKnobs guards the ways to set the limit: MaxModelBytes
// first, then $HIERTUNE_MAX_MODEL_BYTES, then the machine.
func TestMemoryLimitKnobs(t *testing.T) {
	defer func(v int64) { MaxModelBytes = v }(MaxModelBytes)
	MaxModelBytes = 0
	t.Setenv(MaxModelBytesEnv, "")
	if _, _, err := MemoryLimit(); err == nil || !strings.Contains(err.Error(), MaxModelBytesEnv+`="": want a positive number of bytes`) {
		t.Errorf("empty variable: %v", err)
	}
	t.Setenv(MaxModelBytesEnv, "200000")
	tiny := Presets["bert-tiny"]
	if _, err := New(tiny, false); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "more than the 195.3 KiB allowed ("+MaxModelBytesEnv+")") {
		t.Errorf("bert-tiny under a 200000-byte limit: %v", err)
	}
	if _, err := New(Presets["micro"], false); err != nil {
		t.Errorf("micro under a 200000-byte limit: %v", err)
	}
	MaxModelBytes = 1 << 30
	if _, err := New(tiny, false); err != nil {
		t.Errorf("MaxModelBytes does not take precedence: %v", err)
	}
	MaxModelBytes = 0
	t.Setenv(MaxModelBytesEnv, "1e9")
	if _, err := New(tiny, false); err == nil || !strings.Contains(err.Error(), `"1e9": want a positive number of bytes`) {
		t.Errorf("bad variable: %v", err)
	}
}

// TestSystemMemory guards the machine's limit: known on Linux and macOS,
// and enough for a BERT-base.
func TestSystemMemory(t *testing.T) {
	n, source := systemMemory()
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skipf("memory unknown on %s", runtime.GOOS)
	}
	if base := Presets["bert-base"]; n < base.ModelBytes(true) || source == "" {
		t.Errorf("systemMemory() = %d (%s), want at least a BERT-base", n, source)
	}
}

// TestValidateRejectsBadValues guards against configuration values that
// passed Validate and broke later: NaN (which fails no plain comparison),
// epsilons that vanish or overflow in float32, and a negative
// initializer_range.
func TestValidateRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		want string
		edit func(*Config)
	}{
		{"layer_norm_eps must be a positive float32", func(c *Config) { c.LayerNormEps = math.NaN() }},
		{"layer_norm_eps must be a positive float32", func(c *Config) { c.LayerNormEps = -1 }},
		{"layer_norm_eps must be a positive float32", func(c *Config) { c.LayerNormEps = 1e-50 }},
		{"layer_norm_eps must be a positive float32", func(c *Config) { c.LayerNormEps = 1e300 }},
		{"hidden_dropout_prob must be in [0, 1), got NaN", func(c *Config) { c.HiddenDropoutProb = math.NaN() }},
		{"attention_probs_dropout_prob must be in [0, 1)", func(c *Config) { c.AttentionProbsDropoutProb = 1 }},
		{"initializer_range must be finite and not negative, got +Inf", func(c *Config) { c.InitializerRange = math.Inf(1) }},
		{"initializer_range must be finite and not negative, got -0.02", func(c *Config) { c.InitializerRange = -0.02 }},
		{"num_attention_heads must be positive, got 0", func(c *Config) { c.NumAttentionHeads = 0 }},
		{"hidden_size 32 is not a multiple of num_attention_heads 3", func(c *Config) { c.NumAttentionHeads = 3 }},
		{"num_hidden_layers must be positive, got -1", func(c *Config) { c.NumHiddenLayers = -1 }},
	} {
		cfg := Presets["micro"]
		tc.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want %q", err, tc.want)
		}
		if _, err := New(cfg, false); err == nil {
			t.Errorf("New accepted a config that Validate refuses (%s)", tc.want)
		}
	}
}
