package pytorch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
)

// The pickle opcodes the unpickler runs: those torch.save emits (protocol 2 by
// default, up to 5 on request) plus their plain mark-based variants. Anything
// else, including every opcode that could import or call arbitrary Python,
// is rejected.
const (
	opMark           = '('
	opStop           = '.'
	opBinFloat       = 'G'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'

	opProto    = 0x80 // protocol 2
	opNewObj   = 0x81
	opTuple1   = 0x85
	opTuple2   = 0x86
	opTuple3   = 0x87
	opNewTrue  = 0x88
	opNewFalse = 0x89
	opLong1    = 0x8a

	opBinBytes      = 'B' // protocol 3
	opShortBinBytes = 'C'

	opShortBinUnicode = 0x8c // protocol 4
	opStackGlobal     = 0x93
	opMemoize         = 0x94
	opFrame           = 0x95
)

// maxProtocol is the highest pickle protocol the unpickler accepts.
const maxProtocol = 5

// The unpickler builds Python values as:
//
//	None → nil, bool → bool, int → int64 or *big.Int (wider than 64 bits),
//	float → float64, str → string, bytes → []byte, tuple → tuple,
//	list → *list, dict and OrderedDict → *dict,
//
// plus the torch values of torch.go (globals, storages and tensors).
type (
	tuple []any
	list  struct{ items []any }
	dict  struct {
		keys []any // in insertion order
		m    map[any]any
	}
)

func newDict() *dict { return &dict{m: make(map[any]any)} }

// set stores d[k] = v. Keys are limited to the hashable scalars a checkpoint
// uses (str, int, float, bool, None).
func (d *dict) set(k, v any) error {
	switch k.(type) {
	case nil, bool, int64, float64, string:
	default:
		return fmt.Errorf("unsupported dict key of type %s", typeName(k))
	}
	if _, ok := d.m[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.m[k] = v
	return nil
}

// typeName names the Python type of an unpickled value for error messages.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case tuple:
		return "tuple"
	case *list:
		return "list"
	case *dict:
		return "dict"
	case *callable:
		return v.name
	case *storageType:
		return v.name
	case torchConst:
		return string(v)
	case *storage:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// describe prints a scalar value in full and anything else by its type, so
// that an error message stays short whatever the pickle built.
func describe(v any) string {
	switch v := v.(type) {
	case nil, bool, int64, *big.Int, float64:
		return fmt.Sprint(v)
	case string:
		return fmt.Sprintf("%.64q", v)
	}
	return typeName(v)
}

// persistentLoader resolves the object of a BINPERSID opcode.
type persistentLoader func(pid any) (any, error)

// unpickler runs one pickle. Every length it reads is checked against the
// bytes left in the input before anything is allocated.
type unpickler struct {
	r      *bufio.Reader
	pos    int64 // bytes consumed
	remain int64 // bytes the input may still hold
	stack  []any
	marks  []int // stack heights at each MARK
	memo   map[uint32]any
	load   persistentLoader // nil: persistent ids are an error
}

// unpickle reads one pickle from r, which holds at most size bytes, and
// returns the object and the number of bytes the pickle took.
func unpickle(r io.Reader, size int64, load persistentLoader) (any, int64, error) {
	u := &unpickler{
		r:      bufio.NewReaderSize(r, 64<<10),
		remain: size,
		memo:   make(map[uint32]any),
		load:   load,
	}
	for {
		start := u.pos
		op, err := u.readByte()
		if err != nil {
			return nil, 0, fmt.Errorf("pickle offset %d: %w", start, err)
		}
		if op == opStop {
			v, err := u.pop()
			if err != nil {
				return nil, 0, fmt.Errorf("pickle offset %d: STOP: %w", start, err)
			}
			return v, u.pos, nil
		}
		if err := u.step(op); err != nil {
			return nil, 0, fmt.Errorf("pickle offset %d: opcode %#02x: %w", start, op, err)
		}
	}
}

var errTruncated = errors.New("truncated pickle")

func (u *unpickler) readByte() (byte, error) {
	if u.remain < 1 {
		return 0, errTruncated
	}
	b, err := u.r.ReadByte()
	if err != nil {
		return 0, errTruncated
	}
	u.pos++
	u.remain--
	return b, nil
}

// read returns the next n bytes.
func (u *unpickler) read(n int64) ([]byte, error) {
	if n < 0 || n > u.remain {
		return nil, errTruncated
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(u.r, b); err != nil {
		return nil, errTruncated
	}
	u.pos += n
	u.remain -= n
	return b, nil
}

// readUint reads an n-byte little-endian unsigned integer.
func (u *unpickler) readUint(n int64) (uint64, error) {
	b, err := u.read(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// readCounted reads bytes preceded by their count, an n-byte little-endian
// integer.
func (u *unpickler) readCounted(n int64) ([]byte, error) {
	count, err := u.readUint(n)
	if err != nil {
		return nil, err
	}
	return u.read(int64(count)) // count < 1<<32
}

// readLine reads a newline-terminated line of at most 256 bytes, as GLOBAL's
// module and name are.
func (u *unpickler) readLine() (string, error) {
	var line []byte
	for {
		c, err := u.readByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return string(line), nil
		}
		if len(line) == 256 {
			return "", errors.New("GLOBAL name longer than 256 bytes")
		}
		line = append(line, c)
	}
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

// top returns the top of the stack; items below the last MARK are out of
// reach, as in Python's unpickler.
func (u *unpickler) top() (any, error) {
	n := len(u.stack)
	if n == 0 || (len(u.marks) > 0 && u.marks[len(u.marks)-1] == n) {
		return nil, errors.New("stack underflow")
	}
	return u.stack[n-1], nil
}

func (u *unpickler) pop() (any, error) {
	v, err := u.top()
	if err == nil {
		u.stack = u.stack[:len(u.stack)-1]
	}
	return v, err
}

// popMark removes and returns the items pushed since the last MARK.
func (u *unpickler) popMark() ([]any, error) {
	n := len(u.marks)
	if n == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[n-1]
	u.marks = u.marks[:n-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

// popN removes and returns the top n items.
func (u *unpickler) popN(n int) (tuple, error) {
	t := make(tuple, n)
	for i := n - 1; i >= 0; i-- {
		v, err := u.pop()
		if err != nil {
			return nil, err
		}
		t[i] = v
	}
	return t, nil
}

// step runs one opcode other than STOP.
func (u *unpickler) step(op byte) error {
	switch op {
	case opProto:
		v, err := u.readByte()
		if err != nil {
			return err
		}
		if v > maxProtocol {
			return fmt.Errorf("unsupported pickle protocol %d", v)
		}
	case opFrame:
		// Frames only group opcodes for buffering; the length is not needed.
		_, err := u.read(8)
		return err
	case opMark:
		u.marks = append(u.marks, len(u.stack))

	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opBinInt:
		v, err := u.readUint(4)
		if err != nil {
			return err
		}
		u.push(int64(int32(v)))
	case opBinInt1, opBinInt2:
		n := int64(1)
		if op == opBinInt2 {
			n = 2
		}
		v, err := u.readUint(n)
		if err != nil {
			return err
		}
		u.push(int64(v))
	case opLong1:
		n, err := u.readUint(1)
		if err != nil {
			return err
		}
		b, err := u.read(int64(n))
		if err != nil {
			return err
		}
		u.push(decodeLong(b))
	case opBinFloat:
		b, err := u.read(8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opShortBinUnicode, opShortBinString:
		b, err := u.readCounted(1)
		if err != nil {
			return err
		}
		u.push(string(b))
	case opBinUnicode, opBinString:
		// BINSTRING (a Python 2 str) has a signed count; read as unsigned,
		// a negative one is longer than any input.
		b, err := u.readCounted(4)
		if err != nil {
			return err
		}
		u.push(string(b))
	case opShortBinBytes:
		b, err := u.readCounted(1)
		if err != nil {
			return err
		}
		u.push(b)
	case opBinBytes:
		b, err := u.readCounted(4)
		if err != nil {
			return err
		}
		u.push(b)

	case opEmptyTuple:
		u.push(tuple{})
	case opTuple1, opTuple2, opTuple3:
		t, err := u.popN(int(op-opTuple1) + 1)
		if err != nil {
			return err
		}
		u.push(t)
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(tuple(items))
	case opEmptyList:
		u.push(&list{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&list{items: items})
	case opAppend, opAppends:
		var items []any
		var err error
		if op == opAppend {
			items, err = u.popN(1)
		} else {
			items, err = u.popMark()
		}
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		l, ok := v.(*list)
		if !ok {
			return fmt.Errorf("append to %s", typeName(v))
		}
		l.items = append(l.items, items...)
	case opEmptyDict:
		u.push(newDict())
	case opDict:
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := newDict()
		if err := setItems(d, items); err != nil {
			return err
		}
		u.push(d)
	case opSetItem, opSetItems:
		var items []any
		var err error
		if op == opSetItem {
			items, err = u.popN(2)
		} else {
			items, err = u.popMark()
		}
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		d, ok := v.(*dict)
		if !ok {
			return fmt.Errorf("set item of %s", typeName(v))
		}
		return setItems(d, items)

	case opBinPut, opLongBinPut, opMemoize:
		var idx uint64
		var err error
		switch op {
		case opBinPut:
			idx, err = u.readUint(1)
		case opLongBinPut:
			idx, err = u.readUint(4)
		default:
			idx = uint64(len(u.memo))
		}
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		u.memo[uint32(idx)] = v
	case opBinGet, opLongBinGet:
		n := int64(1)
		if op == opLongBinGet {
			n = 4
		}
		idx, err := u.readUint(n)
		if err != nil {
			return err
		}
		v, ok := u.memo[uint32(idx)]
		if !ok {
			return fmt.Errorf("memo entry %d is not set", idx)
		}
		u.push(v)

	case opGlobal:
		module, err := u.readLine()
		if err != nil {
			return err
		}
		name, err := u.readLine()
		if err != nil {
			return err
		}
		g, err := findGlobal(module, name)
		if err != nil {
			return err
		}
		u.push(g)
	case opStackGlobal:
		t, err := u.popN(2)
		if err != nil {
			return err
		}
		module, ok1 := t[0].(string)
		name, ok2 := t[1].(string)
		if !ok1 || !ok2 {
			return fmt.Errorf("STACK_GLOBAL of %s and %s", typeName(t[0]), typeName(t[1]))
		}
		g, err := findGlobal(module, name)
		if err != nil {
			return err
		}
		u.push(g)
	case opReduce, opNewObj:
		t, err := u.popN(2)
		if err != nil {
			return err
		}
		c, ok := t[0].(*callable)
		if !ok || (op == opNewObj && !c.class) {
			return fmt.Errorf("cannot call %s", typeName(t[0]))
		}
		args, ok := t[1].(tuple)
		if !ok {
			return fmt.Errorf("%s: arguments are %s, not a tuple", c.name, typeName(t[1]))
		}
		v, err := c.call(args)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		u.push(v)
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return err
		}
		v, err := u.top()
		if err != nil {
			return err
		}
		// An OrderedDict state dict carries attributes such as _metadata
		// (module versions); they say nothing about the tensors.
		_, isDict := v.(*dict)
		_, isAttrs := state.(*dict)
		if !isDict || !isAttrs {
			return fmt.Errorf("cannot set state %s on %s", typeName(state), typeName(v))
		}
	case opBinPersID:
		pid, err := u.pop()
		if err != nil {
			return err
		}
		if u.load == nil {
			return errors.New("unexpected persistent id")
		}
		v, err := u.load(pid)
		if err != nil {
			return err
		}
		u.push(v)
	default:
		return errors.New("unsupported opcode")
	}
	return nil
}

// setItems stores the key, value pairs of items in d.
func setItems(d *dict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number of items (%d) for a dict", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// decodeLong decodes LONG1's little-endian two's complement integer, as an
// int64 when it fits.
func decodeLong(b []byte) any {
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if n := uint(len(b)) * 8; n > 0 && n < 64 && v>>(n-1) == 1 {
			v |= ^uint64(0) << n // sign-extend
		}
		return int64(v)
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	return v
}
