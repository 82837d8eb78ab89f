package scimadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// object is a JSON object that keeps its members' order. SCIM attribute
// names are case-insensitive, so lookups fold case. Values are object,
// []any, string, json.Number, bool or nil.
type object []member

type member struct {
	name  string
	value any
}

// index returns the position of the member named name (any case), or -1.
func (o object) index(name string) int {
	for i, m := range o {
		if strings.EqualFold(m.name, name) {
			return i
		}
	}
	return -1
}

// get returns the value of the member named name and whether it exists.
func (o object) get(name string) (any, bool) {
	if i := o.index(name); i >= 0 {
		return o[i].value, true
	}
	return nil, false
}

// set replaces the value of the member named name, or appends one.
func (o *object) set(name string, v any) {
	if i := o.index(name); i >= 0 {
		(*o)[i].value = v
		return
	}
	*o = append(*o, member{name: name, value: v})
}

// del removes the member named name.
func (o *object) del(name string) {
	if i := o.index(name); i >= 0 {
		*o = append((*o)[:i], (*o)[i+1:]...)
	}
}

// MarshalJSON writes the members in order, without HTML escaping.
func (o object) MarshalJSON() ([]byte, error) {
	return appendJSON(nil, o)
}

// appendJSON appends v as compact JSON, without HTML escaping. The
// types of a decoded value and of the adapter's own responses are
// written directly; any other goes through encoding/json.
func appendJSON(b []byte, v any) ([]byte, error) {
	var err error
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case json.Number:
		return append(b, v...), nil
	case object:
		b = append(b, '{')
		for i, m := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.name)
			b = append(b, ':')
			if b, err = appendJSON(b, m.value); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

// appendString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 as U+FFFD (as encoding/json
// writes it).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// marshal encodes v as compact JSON without HTML escaping.
func marshal(v any) []byte {
	b, err := appendJSON(nil, v)
	if err != nil {
		// Only our own types reach here, and they always encode.
		return []byte(`{"schemas":["` + errorSchema + `"],"status":"500","detail":"encoding failed"}`)
	}
	return b
}

// clone returns a deep copy of a decoded JSON value.
func clone(v any) any {
	switch v := v.(type) {
	case object:
		c := make(object, len(v))
		for i, m := range v {
			c[i] = member{name: m.name, value: clone(m.value)}
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = clone(e)
		}
		return c
	}
	return v
}

// syntaxError is a request body that is not the JSON it must be.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return "scimadapter: " + e.msg }

// decodeJSON decodes one JSON value from data into object, []any,
// string, json.Number, bool or nil. Malformed JSON, trailing data and an
// object naming one attribute twice (in any case) are a *syntaxError with
// the line and column.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, data, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &syntaxError{msg: fmt.Sprintf("the body has data after its JSON value (%s)", where(data, dec.InputOffset()))}
	}
	return v, nil
}

// where describes a byte offset of data as a line and column.
func where(data []byte, off int64) string {
	off = min(off, int64(len(data)))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d", line, col)
}

func tokenError(data []byte, dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &syntaxError{msg: fmt.Sprintf("malformed JSON at %s: %s", where(data, se.Offset), strings.TrimPrefix(se.Error(), "json: "))}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &syntaxError{msg: "malformed JSON: the body ends too early"}
	}
	return &syntaxError{msg: fmt.Sprintf("malformed JSON at %s: %v", where(data, dec.InputOffset()), err)}
}

const maxJSONDepth = 64

func decodeValue(dec *json.Decoder, data []byte, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, &syntaxError{msg: fmt.Sprintf("the body nests deeper than %d levels (%s)", maxJSONDepth, where(data, dec.InputOffset()))}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, tokenError(data, dec, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, tokenError(data, dec, err)
				}
				k := kt.(string) // the decoder guarantees a string key
				if o.index(k) >= 0 {
					return nil, &syntaxError{msg: fmt.Sprintf("attribute %q appears twice in one object (%s); attribute names are case-insensitive", k, where(data, dec.InputOffset()))}
				}
				v, err := decodeValue(dec, data, depth+1)
				if err != nil {
					return nil, err
				}
				o = append(o, member{name: k, value: v})
			}
			if _, err := dec.Token(); err != nil {
				return nil, tokenError(data, dec, err)
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, err := decodeValue(dec, data, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, tokenError(data, dec, err)
			}
			return a, nil
		}
		return nil, &syntaxError{msg: fmt.Sprintf("malformed JSON at %s", where(data, dec.InputOffset()))}
	}
	return tok, nil
}

// jsonType names the JSON type of a decoded value for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}
