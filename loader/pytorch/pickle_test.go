package pytorch

import (
	"bytes"
	"math/big"
	"reflect"
	"testing"
)

func TestUnpickleValues(t *testing.T) {
	magic := []byte{opLong1, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}
	for _, tc := range []struct {
		name string
		pkl  []byte
		want any
	}{
		{"ints", []byte{opProto, 2, opMark, opBinInt1, 0xff, opBinInt2, 0xff, 0xff, opBinInt, 0xfe, 0xff, 0xff, 0xff,
			opLong1, 0, opLong1, 1, 0x80, opLong1, 2, 0xff, 0x7f, opLong1, 8, 0, 0, 0, 0, 0, 0, 0, 0x80, opTuple, opStop},
			tuple{int64(255), int64(65535), int64(-2), int64(0), int64(-128), int64(32767), int64(-1 << 63)}},
		{"float", []byte{opBinFloat, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, opStop}, 1.5},
		{"strings", []byte{opMark, opShortBinUnicode, 2, 'h', 'i', opShortBinString, 1, 'a', opBinString, 1, 0, 0, 0, 'b',
			opShortBinBytes, 1, 0, opBinBytes, 1, 0, 0, 0, 'z', opTuple, opStop},
			tuple{"hi", "a", "b", []byte{0}, []byte("z")}},
		{"small tuples", []byte{opNone, opNewTrue, opNewFalse, opTuple3, opEmptyTuple, opTuple2, opNone, opTuple1, opTuple2, opStop},
			tuple{tuple{tuple{nil, true, false}, tuple{}}, tuple{nil}}},
		{"lists", []byte{opEmptyList, opMark, opNone, opNewTrue, opAppends, opNewFalse, opAppend, opMark, opList, opAppend, opStop},
			&list{items: []any{nil, true, false, &list{}}}},
		{"dicts", []byte{opMark, opBinInt1, 1, opMark, opDict, opDict, opBinInt1, 2, opShortBinUnicode, 1, 'x', opSetItem,
			opMark, opNewTrue, opNone, opSetItems, opStop},
			&dict{keys: []any{int64(1), int64(2), true}, m: map[any]any{int64(1): newDict(), int64(2): "x", true: nil}}},
		{"frame and memo", []byte{opProto, 4, opFrame, 9, 0, 0, 0, 0, 0, 0, 0, opMark, opNone, opMemoize, opLongBinPut, 7, 0, 0, 0,
			opBinGet, 0, opLongBinGet, 7, 0, 0, 0, opTuple, opStop},
			tuple{nil, nil, nil}},
		{"OrderedDict with metadata", new(pickler).op(opProto, 2).global("collections", "OrderedDict").op(opEmptyTuple, opNewObj).
			str("a").op(opNone, opSetItem, opEmptyDict).str("_metadata").op(opEmptyDict, opSetItem, opBuild, opStop).Bytes(),
			&dict{keys: []any{"a"}, m: map[any]any{"a": nil}}},
		{"Python 2 OrderedDict", new(pickler).op(opProto, 2).global("collections", "OrderedDict").op(opMark, opEmptyList).
			op(opMark, opShortBinString, 1, 'k', opNone, opList).op(opAppend, opTuple, opReduce, opStop).Bytes(),
			&dict{keys: []any{"k"}, m: map[any]any{"k": nil}}},
		{"dtype and layout", new(pickler).op(opMark).global("torch", "bfloat16").global("torch.serialization", "_get_layout").
			str("torch.strided").op(opTuple1, opReduce, opTuple, opStop).Bytes(),
			tuple{torchConst("torch.bfloat16"), torchConst("torch.strided")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n, err := unpickle(bytes.NewReader(tc.pkl), int64(len(tc.pkl)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(tc.pkl)) {
				t.Errorf("consumed %d bytes of %d", n, len(tc.pkl))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}

	t.Run("wide int", func(t *testing.T) {
		pkl := append(magic, opStop)
		got, _, err := unpickle(bytes.NewReader(pkl), int64(len(pkl)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, ok := got.(*big.Int); !ok || b.Cmp(legacyMagic) != 0 {
			t.Errorf("got %v, want %v", got, legacyMagic)
		}
		want := new(big.Int).Lsh(big.NewInt(-1), 64)
		if got := decodeLong([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff}); got.(*big.Int).Cmp(want) != 0 {
			t.Errorf("9-byte -2^64 decoded as %v", got)
		}
	})

	t.Run("memo shares objects", func(t *testing.T) {
		pkl := []byte{opMark, opEmptyList, opBinPut, 0, opBinGet, 0, opTuple, opStop}
		got, _, err := unpickle(bytes.NewReader(pkl), int64(len(pkl)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if tu := got.(tuple); tu[0] != tu[1] {
			t.Error("BINGET did not return the memoized list")
		}
	})

	t.Run("stops at STOP", func(t *testing.T) {
		pkl := []byte{opNone, opStop, 0xff, 0xff}
		if _, n, err := unpickle(bytes.NewReader(pkl), int64(len(pkl)), nil); err != nil || n != 2 {
			t.Errorf("got n=%d, err=%v; want 2, nil", n, err)
		}
	})
}
