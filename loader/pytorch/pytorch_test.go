package pytorch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/tensor"
)

// readSafetensors reads a golden file that testdata/make_fixtures.py wrote.
func readSafetensors(t *testing.T, path string) map[string]*tensor.Tensor {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f.Tensors()
}

func equalTensors(t *testing.T, got, want map[string]*tensor.Tensor) {
	t.Helper()
	gotKeys, wantKeys := keys(got), keys(want)
	if !slices.Equal(gotKeys, wantKeys) {
		t.Fatalf("keys %v, want %v", gotKeys, wantKeys)
	}
	for _, name := range wantKeys {
		g, w := got[name], want[name]
		if g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: got %s%v % x, want %s%v % x", name, g.DType, g.Shape, g.Data, w.DType, w.Shape, w.Data)
		}
	}
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestFixtures reads the checkpoints PyTorch wrote and compares every tensor
// bit for bit with the contiguous copies PyTorch wrote as safetensors.
func TestFixtures(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"zip_f32.pt", "want_f32.safetensors"},
		{"zip_f16.pt", "want_f16.safetensors"},
		{"zip_bf16.pt", "want_bf16.safetensors"},
		{"legacy_f32.pt", "want_f32.safetensors"},
		{"legacy_f16.pt", "want_f16.safetensors"},
		{"legacy_bf16.pt", "want_bf16.safetensors"},
		{"wrapped.pt", "want_f32.safetensors"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Load(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			want := readSafetensors(t, filepath.Join("testdata", tc.want))
			equalTensors(t, got, want)
			if dt := got["transposed"].DType; dt != want["transposed"].DType || !dt.IsFloat() {
				t.Errorf("transposed has dtype %s", dt)
			}
			// Tied weights share a storage in PyTorch but not here.
			got["emb.weight"].Data[0] ^= 1
			if got["decoder.weight"].Data[0] == got["emb.weight"].Data[0] {
				t.Error("tied tensors share their bytes")
			}
		})
	}
}

// pickler writes pickles opcode by opcode for hand-made test inputs.
type pickler struct{ bytes.Buffer }

func (p *pickler) op(ops ...byte) *pickler { p.Write(ops); return p }

func (p *pickler) str(s string) *pickler {
	p.op(opBinUnicode)
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pickler) int(v int64) *pickler {
	if v == int64(int32(v)) {
		p.op(opBinInt)
		binary.Write(p, binary.LittleEndian, int32(v))
		return p
	}
	p.op(opLong1, 8)
	binary.Write(p, binary.LittleEndian, v)
	return p
}

func (p *pickler) ints(vs ...int64) *pickler {
	p.op(opMark)
	for _, v := range vs {
		p.int(v)
	}
	return p.op(opTuple)
}

func (p *pickler) global(module, name string) *pickler {
	p.op(opGlobal)
	p.WriteString(module + "\n" + name + "\n")
	return p
}

// storage writes a persistent id for storage key of numel elements of the
// given storage class; a legacy storage view also gives its offset and size.
func (p *pickler) storage(class, key string, numel int64, offsetSize ...int64) *pickler {
	p.op(opMark).str("storage").global("torch", class).str(key).str("cpu").int(numel)
	if offsetSize != nil {
		p.str("view").int(offsetSize[0]).int(offsetSize[1]).op(opTuple3)
	}
	return p.op(opTuple, opBinPersID)
}

// tensor writes _rebuild_tensor_v2 of a view of a storage.
func (p *pickler) tensor(class, key string, numel, offset int64, shape, stride []int64) *pickler {
	p.global("torch._utils", "_rebuild_tensor_v2").op(opMark)
	p.storage(class, key, numel).int(offset).ints(shape...).ints(stride...)
	p.op(opNewFalse).global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	return p.op(opTuple, opReduce)
}

// view describes one tensor of a hand-made state dict.
type view struct {
	name, class, key string
	numel, offset    int64
	shape, stride    []int64
}

// stateDictPickle pickles {name: tensor} for the views.
func stateDictPickle(views ...view) []byte {
	p := new(pickler).op(opProto, 2, opEmptyDict, opMark)
	for _, v := range views {
		p.str(v.name).tensor(v.class, v.key, v.numel, v.offset, v.shape, v.stride)
	}
	return p.op(opSetItems, opStop).Bytes()
}

type entry struct {
	name   string
	data   []byte
	method uint16
}

// zipFile builds a zip archive of the entries, stored unless they say
// otherwise.
func zipFile(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		f, err := w.CreateHeader(&zip.FileHeader{Name: e.name, Method: e.method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkpoint builds a zip checkpoint whose data.pkl is pkl and whose storage
// records are given as key, bytes pairs.
func checkpoint(t *testing.T, pkl []byte, records ...string) []byte {
	t.Helper()
	entries := []entry{{name: "ckpt/data.pkl", data: pkl}}
	for i := 0; i < len(records); i += 2 {
		entries = append(entries, entry{name: "ckpt/data/" + records[i], data: []byte(records[i+1])})
	}
	return zipFile(t, append(entries, entry{name: "ckpt/version", data: []byte("3\n")})...)
}

// legacyFile builds a legacy-format checkpoint: obj is the main pickle, and
// each storage is a key, element count and bytes.
func legacyFile(obj []byte, storages ...legacyStorage) []byte {
	var b bytes.Buffer
	magic := []byte{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}
	b.Write(new(pickler).op(opProto, 2, opLong1, byte(len(magic))).op(magic...).op(opStop).Bytes())
	b.Write(new(pickler).op(opProto, 2).int(legacyProtocol).op(opStop).Bytes())
	b.Write(new(pickler).op(opProto, 2, opEmptyDict).str("little_endian").op(opNewTrue, opSetItem, opStop).Bytes())
	b.Write(obj)
	keys := new(pickler).op(opProto, 2, opEmptyList, opMark)
	for _, s := range storages {
		keys.str(s.key)
	}
	b.Write(keys.op(opAppends, opStop).Bytes())
	for _, s := range storages {
		binary.Write(&b, binary.LittleEndian, s.count)
		b.Write(s.data)
	}
	return b.Bytes()
}

// legacyStorage is a storage record of a legacy file.
type legacyStorage struct {
	key   string
	count int64
	data  []byte
}

// f32Bytes returns the little-endian bytes of vs.
func f32Bytes(vs ...float32) string {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return string(b)
}

func TestHandMade(t *testing.T) {
	six := f32Bytes(0, 1, 2, 3, 4, 5)
	legacyView := new(pickler).op(opProto, 2, opEmptyDict).str("v")
	legacyView.global("torch._utils", "_rebuild_tensor").op(opMark).storage("FloatStorage", "0", 6, 2, 3)
	legacyView.int(1).ints(2).ints(1).op(opTuple, opReduce, opSetItem, opStop)

	for _, tc := range []struct {
		name string
		file []byte
		want map[string]*tensor.Tensor
	}{{
		name: "broadcast",
		file: checkpoint(t, stateDictPickle(view{"b", "FloatStorage", "0", 6, 3, []int64{2, 3}, []int64{0, 1}}), "0", six),
		want: map[string]*tensor.Tensor{"b": tensor.FromFloat32([]int{2, 3}, []float32{3, 4, 5, 3, 4, 5})},
	}, {
		name: "3-d permuted",
		file: checkpoint(t, stateDictPickle(view{"p", "FloatStorage", "0", 6, 0, []int64{3, 1, 2}, []int64{1, 7, 3}}), "0", six),
		want: map[string]*tensor.Tensor{"p": tensor.FromFloat32([]int{3, 1, 2}, []float32{0, 3, 1, 4, 2, 5})},
	}, {
		name: "empty with any offset",
		file: checkpoint(t, stateDictPickle(view{"e", "LongStorage", "0", 0, 99, []int64{0, 4}, []int64{4, 1}}), "0", ""),
		want: map[string]*tensor.Tensor{"e": tensor.FromInt64([]int{0, 4}, nil)},
	}, {
		name: "legacy storage view",
		file: legacyFile(legacyView.Bytes(), legacyStorage{"0", 6, []byte(six)}),
		want: map[string]*tensor.Tensor{"v": tensor.FromFloat32([]int{2}, []float32{3, 4})},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(bytes.NewReader(tc.file), int64(len(tc.file)), "hand.pt")
			if err != nil {
				t.Fatal(err)
			}
			equalTensors(t, got, tc.want)
		})
	}
}

func TestCorrupt(t *testing.T) {
	zipF32, err := os.ReadFile("testdata/zip_f32.pt")
	if err != nil {
		t.Fatal(err)
	}
	legacyF32, err := os.ReadFile("testdata/legacy_f32.pt")
	if err != nil {
		t.Fatal(err)
	}
	// A zip fixture with one byte of a storage record flipped.
	zr, err := zip.NewReader(bytes.NewReader(zipF32), int64(len(zipF32)))
	if err != nil {
		t.Fatal(err)
	}
	off, err := zr.File[1].DataOffset()
	if err != nil {
		t.Fatal(err)
	}
	badCRC := bytes.Clone(zipF32)
	badCRC[off] ^= 1

	f32 := func(name string, numel, offset int64, shape, stride []int64) view {
		return view{name, "FloatStorage", "0", numel, offset, shape, stride}
	}
	one := stateDictPickle(f32("w", 4, 0, []int64{4}, []int64{1}))
	sixteen := f32Bytes(1, 2, 3, 4)
	big := int64(1) << 62
	wrapped := func(keys ...string) []byte {
		p := new(pickler).op(opProto, 2, opEmptyDict)
		for _, k := range keys {
			p.str(k).op(opEmptyDict, opSetItem)
		}
		return p.op(opStop).Bytes()
	}

	var views []view
	for i := range 20 {
		views = append(views, f32(fmt.Sprint(i), 1<<14, 0, []int64{1 << 14}, []int64{1}))
	}
	manyViews := checkpoint(t, stateDictPickle(views...), "0", string(make([]byte, 1<<16)))

	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty file", nil, "not a torch.save file"},
		{"not torch", []byte("hello, world"), "not a torch.save file"},
		{"truncated zip", zipF32[:len(zipF32)/2], "zip"},
		{"truncated legacy pickle", legacyF32[:142], "object pickle at offset 137: pickle offset 2: opcode 0x63: truncated pickle"},
		{"truncated legacy storage", legacyF32[:len(legacyF32)-3], "do not fit in the file"},
		{"legacy bad magic", append([]byte{opProto, 2, opBinInt1, 7, opStop}, legacyF32[15:]...), "no legacy magic number"},
		{"legacy unlisted storage", legacyFile(one), `storage "0" is not in the file's storage list`},
		{"legacy short storage", legacyFile(one, legacyStorage{"0", 3, []byte(sixteen[:12])}), "needs 16 bytes"},
		{"legacy count overflow", legacyFile(one, legacyStorage{"0", math.MaxInt64, nil}), "do not fit in the file"},
		{"bad CRC", badCRC, "checksum error"},
		{"truncated data.pkl", checkpoint(t, one[:len(one)-5], "0", sixteen), "ckpt/data.pkl: pickle offset"},
		{"unknown opcode", checkpoint(t, []byte{opProto, 2, 0xff}), "pickle offset 2: opcode 0xff: unsupported opcode"},
		{"protocol 6", checkpoint(t, []byte{opProto, 6}), "unsupported pickle protocol 6"},
		{"os.system", checkpoint(t, new(pickler).op(opProto, 2).global("os", "system").str("true").op(opTuple1, opReduce, opStop).Bytes()),
			"global os.system is not allowed"},
		{"stack global", checkpoint(t, new(pickler).op(opProto, 4).str("builtins").str("eval").op(opStackGlobal, opStop).Bytes()),
			"global builtins.eval is not allowed"},
		{"load from bytes", checkpoint(t, new(pickler).op(opProto, 2).global("torch.storage", "_load_from_bytes").op(opStop).Bytes()),
			"torch.storage._load_from_bytes is not supported"},
		{"call a storage class", checkpoint(t, new(pickler).op(opProto, 2).global("torch", "FloatStorage").op(opEmptyTuple, opReduce, opStop).Bytes()),
			"cannot call torch.FloatStorage"},
		{"rebuild arity", checkpoint(t, new(pickler).op(opProto, 2).global("torch._utils", "_rebuild_tensor_v2").op(opNone, opTuple1, opReduce, opStop).Bytes()),
			"torch._utils._rebuild_tensor_v2: want 6 or 7 arguments, got 1"},
		{"rebuild of None", checkpoint(t, new(pickler).op(opProto, 2).global("torch._utils", "_rebuild_tensor").op(opMark, opNone).int(0).ints().ints().op(opTuple, opReduce, opStop).Bytes()),
			"torch._utils._rebuild_tensor: storage is None"},
		{"size not a tuple", checkpoint(t, new(pickler).op(opProto, 2).global("torch._utils", "_rebuild_tensor").op(opMark).storage("FloatStorage", "0", 1).int(0).op(opEmptyList).ints().op(opTuple, opReduce, opStop).Bytes()),
			"size: list is not a tuple"},
		{"parameter of None", checkpoint(t, new(pickler).op(opProto, 2).global("torch._utils", "_rebuild_parameter").op(opNone, opNewFalse, opNone, opTuple3, opReduce, opStop).Bytes()),
			"data is None, not a tensor"},
		{"sparse layout", checkpoint(t, new(pickler).op(opProto, 2).global("torch.serialization", "_get_layout").str("torch.sparse_coo").op(opTuple1, opReduce, opStop).Bytes()),
			`unsupported layout "torch.sparse_coo"`},
		{"long GLOBAL", checkpoint(t, new(pickler).op(opProto, 2).global(strings.Repeat("x", 300), "y").op(opStop).Bytes()),
			"GLOBAL name longer than 256 bytes"},
		{"memo miss", checkpoint(t, []byte{opProto, 2, opBinGet, 5, opStop}), "memo entry 5 is not set"},
		{"stack underflow", checkpoint(t, []byte{opProto, 2, opReduce}), "stack underflow"},
		{"pop past mark", checkpoint(t, []byte{opProto, 2, opNone, opMark, opStop}), "stack underflow"},
		{"odd setitems", checkpoint(t, []byte{opProto, 2, opEmptyDict, opMark, opNone, opSetItems, opStop}), "odd number of items"},
		{"long string", checkpoint(t, []byte{opProto, 2, opBinUnicode, 0xff, 0xff, 0xff, 0x7f, 'a'}), "truncated pickle"},
		{"unexpected pid", checkpoint(t, new(pickler).op(opProto, 2).str("x").op(opBinPersID, opStop).Bytes()), "unsupported persistent id of type str"},
		{"missing record", checkpoint(t, one, "1", sixteen), `tensor "w": no zip entry ckpt/data/0`},
		{"no data.pkl", zipFile(t, entry{name: "ckpt/version", data: []byte("3\n")}), "no ckpt/data.pkl"},
		{"compressed", zipFile(t, entry{name: "ckpt/data.pkl", data: one, method: zip.Deflate}), "compressed zip entries"},
		{"big-endian", zipFile(t, entry{name: "a/data.pkl", data: one}, entry{name: "a/byteorder", data: []byte("big")}),
			`unsupported byte order "big"`},
		{"record too short", checkpoint(t, one, "0", sixteen[:12]), `tensor "w": storage "0" needs 16 bytes at offset 0, its record has 12`},
		{"view too large", checkpoint(t, stateDictPickle(f32("w", 4, 0, []int64{5}, []int64{1})), "0", sixteen),
			"has more elements than its storage"},
		{"view past the end", checkpoint(t, stateDictPickle(f32("w", 4, 0, []int64{2, 2}, []int64{3, 1})), "0", sixteen),
			"reads past the end of its storage"},
		{"offset past the end", checkpoint(t, stateDictPickle(f32("w", 4, 4, []int64{1}, []int64{1})), "0", sixteen),
			"storage offset 4 is past the end"},
		{"negative size", checkpoint(t, stateDictPickle(f32("w", 4, 0, []int64{-1, 2}, []int64{1, 1})), "0", sixteen), "negative value in size"},
		{"negative stride", checkpoint(t, stateDictPickle(f32("w", 4, 3, []int64{2}, []int64{-1})), "0", sixteen), "negative value in size"},
		{"negative offset", checkpoint(t, stateDictPickle(f32("w", 4, -1, []int64{1}, []int64{1})), "0", sixteen), "negative storage offset"},
		{"rank mismatch", checkpoint(t, stateDictPickle(f32("w", 4, 0, []int64{2, 2}, []int64{1})), "0", sixteen), "2 sizes, 1 strides"},
		{"size overflow", checkpoint(t, stateDictPickle(f32("w", 4, 0, []int64{big, 4}, []int64{1, 1})), "0", sixteen),
			"has more elements than its storage"},
		{"size overflow is named", checkpoint(t, stateDictPickle(f32("w", 4, 0, []int64{big, 4}, []int64{1, 1})), "0", sixteen),
			"view of size [4611686018427387904 4] has more elements than its storage (4): the count overflows an int"},
		{"stride overflow", checkpoint(t, stateDictPickle(f32("w", 4, 0, []int64{2, 2}, []int64{big, 1})), "0", sixteen),
			"reads past the end"},
		{"numel overflow", checkpoint(t, stateDictPickle(f32("w", big, 0, []int64{1}, []int64{1})), "0", sixteen),
			"invalid element count 4611686018427387904"},
		{"many views of one storage", manyViews, "the tensors add up to more than 8 times the file size"},
		{"not a dict", checkpoint(t, []byte{opProto, 2, opEmptyList, opStop}), "holds a list, not a dict of tensors"},
		{"int value", checkpoint(t, new(pickler).op(opProto, 2, opEmptyDict).str("epoch").int(3).op(opSetItem, opStop).Bytes()),
			`key "epoch": value is int, not a tensor`},
		{"int key", checkpoint(t, new(pickler).op(opProto, 2, opEmptyDict).int(3).op(opEmptyDict, opSetItem, opStop).Bytes()),
			"key 3 is not a str"},
		{"wrapped non-tensor", checkpoint(t, new(pickler).op(opProto, 2, opEmptyDict).str("model").op(opEmptyDict).str("x").op(opNone, opSetItem, opSetItem, opStop).Bytes()),
			`key "x" in "model": value is None, not a tensor`},
		{"both wrappers", checkpoint(t, wrapped("model", "state_dict")), `both a "state_dict" and a "model" dict`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.file), int64(len(tc.file)), "bad.pt")
			if err == nil {
				t.Fatal("no error")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "bad.pt: ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want bad.pt: ...%s...", msg, tc.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/no-such-file.pt")
	if !os.IsNotExist(err) || !strings.Contains(err.Error(), "no-such-file.pt") {
		t.Errorf("got %v", err)
	}
}
