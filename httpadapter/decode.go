package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/userkit/userkit/user"
)

// Types of the field problems the adapter reports itself (the service's
// come from package validate).
const (
	typeJSONInvalid  = "json_invalid"
	typeBodyMissing  = "missing"
	typeNotObject    = "object_type"
	typeUnknownField = "unknown_field"
	typeDuplicateKey = "duplicate_key"
	typeString       = "string_type"
	typeList         = "list_type"
	typeInteger      = "int_type"
	typeBool         = "bool_type"
	typeDatetime     = "datetime_type"
	typeMismatch     = "mismatch"
	typeRequired     = "required"
	typeBadParam     = "invalid_parameter"
	typeUnknownParam = "unknown_parameter"
	typeRepeated     = "repeated_parameter"
	typeQuerySyntax  = "query_syntax"
)

// fieldProblem is one entry of an error's detail list.
type fieldProblem struct {
	Loc  []string       `json:"loc"`
	Msg  string         `json:"msg"`
	Type string         `json:"type"`
	Ctx  map[string]any `json:"ctx,omitempty"`
}

// readBody reads the JSON body of r, at most max bytes. It fails with a
// *requestError: 415 when a body is present and not declared as JSON, 413
// when it is larger than max, 400 when it is empty or cannot be read.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if r.ContentLength != 0 && !isJSON(r.Header.Get("Content-Type")) {
		return nil, &requestError{status: http.StatusUnsupportedMediaType,
			msg: "the request body must be JSON, sent with Content-Type: application/json"}
	}
	if r.ContentLength > max {
		return nil, tooLarge(max)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge(max)
	case err != nil:
		return nil, &requestError{status: http.StatusBadRequest, msg: "the request body could not be read"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, bodyProblem(nil, "the request body is empty; send a JSON object such as {}", typeBodyMissing)
	}
	return body, nil
}

func tooLarge(max int64) error {
	return &requestError{status: http.StatusRequestEntityTooLarge,
		msg: "the request body is larger than " + strconv.FormatInt(max, 10) + " bytes"}
}

// isJSON reports whether a Content-Type header declares JSON: the media type
// application/json or application/merge-patch+json, with no charset
// parameter or charset=utf-8.
func isJSON(ct string) bool {
	mt, params, ok := splitMediaType(ct)
	if !ok || (!equalFold(mt, "application/json") && !equalFold(mt, "application/merge-patch+json")) {
		return false
	}
	for _, p := range params {
		k, v, _ := cutByte(p, '=')
		if equalFold(trimSpace(k), "charset") {
			v = trimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if !equalFold(v, "utf-8") && !equalFold(v, "utf8") {
				return false
			}
		}
	}
	return true
}

// splitMediaType splits "type/sub; a=b; c=d" without allocating for the
// common header without parameters.
func splitMediaType(ct string) (mt string, params []string, ok bool) {
	mt, rest, found := cutByte(ct, ';')
	mt = trimSpace(mt)
	if mt == "" {
		return "", nil, false
	}
	for found {
		var p string
		p, rest, found = cutByte(rest, ';')
		if p = trimSpace(p); p != "" {
			params = append(params, p)
		}
	}
	return mt, params, true
}

func cutByte(s string, c byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// bodyProblem returns a 400 with one field problem at ["body", loc...].
func bodyProblem(loc []string, msg, typ string) *requestError {
	return &requestError{status: http.StatusBadRequest, fields: []fieldProblem{{Loc: append([]string{"body"}, loc...), Msg: msg, Type: typ}}}
}

// syntaxProblem describes why body is not valid JSON, with the line and
// column (1-based, counted in characters) of the offending character.
func syntaxProblem(body []byte) *requestError {
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	msg := "is not valid JSON"
	offset := int64(len(body))
	var se *json.SyntaxError
	if errors.As(err, &se) {
		msg = se.Error()
		// Offset counts the bytes read, the offending one included.
		if se.Offset > 0 && se.Offset <= int64(len(body)) {
			offset = se.Offset - 1
		}
		if msg == "unexpected end of JSON input" {
			offset = int64(len(body))
		}
	}
	line, col := position(body, int(offset))
	p := bodyProblem(nil, msg+" at line "+strconv.Itoa(line)+", column "+strconv.Itoa(col), typeJSONInvalid)
	p.fields[0].Ctx = map[string]any{"line": line, "column": col, "offset": offset}
	return p
}

// position returns the 1-based line and column (in characters) of byte
// offset i of b.
func position(b []byte, i int) (line, col int) {
	i = min(max(i, 0), len(b))
	before := b[:i]
	line = 1 + bytes.Count(before, []byte{'\n'})
	if nl := bytes.LastIndexByte(before, '\n'); nl >= 0 {
		before = before[nl+1:]
	}
	return line, 1 + utf8.RuneCount(before)
}

// members returns the members of the JSON object obj (known to be valid
// JSON) in order, or a 400 if obj is not an object or repeats a key; loc is
// where obj is in the body.
func members(obj []byte, loc []string) ([]member, *requestError) {
	obj = bytes.TrimSpace(obj)
	if len(obj) == 0 || obj[0] != '{' {
		what := "the request body"
		if len(loc) > 0 {
			what = "this field"
		}
		return nil, bodyProblem(loc, what+" must be a JSON object", typeNotObject)
	}
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return nil, syntaxProblem(obj)
	}
	var ms []member
	var seen map[string]bool // once there are many members
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, syntaxProblem(obj)
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxProblem(obj)
		}
		dup := seen[key]
		if seen == nil {
			for _, m := range ms {
				dup = dup || m.key == key
			}
			if len(ms) == 16 {
				seen = make(map[string]bool, 32)
				for _, m := range ms {
					seen[m.key] = true
				}
			}
		}
		if dup {
			return nil, bodyProblem(append(loc, key), "is given more than once", typeDuplicateKey)
		}
		if seen != nil {
			seen[key] = true
		}
		ms = append(ms, member{key, raw})
	}
	return ms, nil
}

type member struct {
	key string
	raw json.RawMessage
}

// patchDecoder decodes the fields of a body into a user.Patch, collecting
// every problem.
type patchDecoder struct {
	p        user.Patch
	problems []fieldProblem
	invalid  []user.FieldError // value problems found while decoding (422)
}

// maxProblems bounds the field problems of one response, so that a hostile
// body cannot make the error larger than itself.
const maxProblems = 20

func (d *patchDecoder) problem(loc []string, msg, typ string) {
	if len(d.problems) < maxProblems {
		d.problems = append(d.problems, fieldProblem{Loc: append([]string{"body"}, loc...), Msg: msg, Type: typ})
	}
}

// decodePatch decodes a request body into a merge patch: a field that is
// absent stays unset, null is Null, a value is Value. It fails with a
// *requestError (400) listing every structural problem (malformed JSON with
// its line and column, not an object, unknown or repeated field, wrong JSON
// type), or a *user.ValidationError (422) when the alias
// counter_account.bank_account_type contradicts bank_account_number_type.
func decodePatch(body []byte) (user.Patch, error) {
	if !json.Valid(body) {
		return user.Patch{}, syntaxProblem(body)
	}
	ms, perr := members(body, nil)
	if perr != nil {
		return user.Patch{}, perr
	}
	var d patchDecoder
	for _, m := range ms {
		d.field(m.key, m.raw)
	}
	if d.problems != nil {
		return user.Patch{}, &requestError{status: http.StatusBadRequest, fields: d.problems}
	}
	if d.invalid != nil {
		return user.Patch{}, &user.ValidationError{Errors: d.invalid}
	}
	return d.p, nil
}

// field decodes one top-level member.
func (d *patchDecoder) field(key string, raw json.RawMessage) {
	p := &d.p
	switch key {
	case "external_id":
		p.ExternalID = d.str(key, raw)
	case "first_name":
		p.FirstName = d.str(key, raw)
	case "last_name":
		p.LastName = d.str(key, raw)
	case "email":
		p.Email = d.str(key, raw)
	case "phone":
		p.Phone = d.str(key, raw)
	case "language":
		p.Language = d.str(key, raw)
	case "status":
		s := d.str(key, raw)
		p.Status = user.Nullable[user.Status]{Set: s.Set, Null: s.Null, Value: user.Status(s.Value)}
	case "brokerage_user_id":
		p.BrokerageUserID = d.str(key, raw)
	case "idp_user_id":
		p.IDPUserID = d.str(key, raw)
	case "feature_flags":
		p.FeatureFlags = d.list(key, raw)
	case "readable_by":
		p.ReadableBy = d.list(key, raw)
	case "modifiable_by":
		p.ModifiableBy = d.list(key, raw)
	case "counter_account":
		p.CounterAccount = d.account(raw)
	case "id":
		p.ID = d.str(key, raw)
	case "version_authored_by_user_id":
		p.VersionAuthoredByUserID = d.str(key, raw)
	case "creation_datetime":
		p.CreationDatetime = d.time(key, raw)
	case "version_datetime":
		p.VersionDatetime = d.time(key, raw)
	case "version":
		p.Version = d.int(key, raw)
	case "deleted":
		p.Deleted = d.bool(key, raw)
	case "_embedded":
		// Output only: an object, which GET always writes, is accepted
		// and ignored, whatever it holds, so that a record read with GET
		// can be sent back as it is. Any other type cannot come from a
		// read and is a 400, as the OpenAPI document says.
		if raw[0] != '{' {
			d.problem([]string{key}, "must be an object (the _embedded of a record read with GET), which is ignored", typeNotObject)
		}
	default:
		d.problem([]string{key}, "is not a field of a user", typeUnknownField)
	}
}

func isNull(raw json.RawMessage) bool { return len(raw) > 0 && raw[0] == 'n' }

func (d *patchDecoder) str(key string, raw json.RawMessage) user.Nullable[string] {
	if isNull(raw) {
		return user.Null[string]()
	}
	s, ok := unquote(raw)
	if !ok {
		d.problem([]string{key}, "must be a string or null", typeString)
		return user.Nullable[string]{}
	}
	return user.Value(s)
}

// unquote returns the string raw holds, or false when raw is not a string.
func unquote(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	// Fast path: no escapes.
	if bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func (d *patchDecoder) list(key string, raw json.RawMessage) user.Nullable[[]string] {
	if isNull(raw) {
		return user.Null[[]string]()
	}
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		d.problem([]string{key}, "must be a list of strings or null", typeList)
		return user.Nullable[[]string]{}
	}
	out := make([]string, 0, len(elems))
	for i, e := range elems {
		s, ok := unquote(e)
		if !ok {
			d.problem([]string{key, strconv.Itoa(i)}, "must be a string", typeString)
			continue
		}
		out = append(out, s)
	}
	return user.Value(out)
}

func (d *patchDecoder) time(key string, raw json.RawMessage) user.Nullable[time.Time] {
	if isNull(raw) {
		return user.Null[time.Time]()
	}
	s, ok := unquote(raw)
	var t time.Time
	var err error
	if ok {
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if !ok || err != nil {
		d.problem([]string{key}, "must be an RFC 3339 date-time such as 2021-02-18T08:21:02+00:00", typeDatetime)
		return user.Nullable[time.Time]{}
	}
	return user.Value(t)
}

func (d *patchDecoder) int(key string, raw json.RawMessage) user.Nullable[int64] {
	if isNull(raw) {
		return user.Null[int64]()
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		d.problem([]string{key}, "must be an integer", typeInteger)
		return user.Nullable[int64]{}
	}
	return user.Value(n)
}

func (d *patchDecoder) bool(key string, raw json.RawMessage) user.Nullable[bool] {
	switch string(raw) {
	case "null":
		return user.Null[bool]()
	case "true":
		return user.Value(true)
	case "false":
		return user.Value(false)
	}
	d.problem([]string{key}, "must be true or false", typeBool)
	return user.Nullable[bool]{}
}

// account decodes counter_account: an object (replacing the account whole)
// or null (clearing it). A null or absent sub-field is the empty string,
// which the service treats as not given.
func (d *patchDecoder) account(raw json.RawMessage) user.Nullable[user.CounterAccount] {
	if isNull(raw) {
		return user.Null[user.CounterAccount]()
	}
	loc := []string{"counter_account"}
	ms, perr := members(raw, loc)
	if perr != nil {
		for _, f := range perr.fields {
			d.problem(f.Loc[1:], f.Msg, f.Type)
		}
		return user.Nullable[user.CounterAccount]{}
	}
	var ca user.CounterAccount
	var alias user.Nullable[string]
	sub := func(key string, raw json.RawMessage) string {
		if isNull(raw) {
			return ""
		}
		s, ok := unquote(raw)
		if !ok {
			d.problem([]string{"counter_account", key}, "must be a string or null", typeString)
		}
		return s
	}
	for _, m := range ms {
		switch m.key {
		case "bank_account_number":
			ca.BankAccountNumber = sub(m.key, m.raw)
		case "bank_account_number_type":
			ca.BankAccountNumberType = sub(m.key, m.raw)
		case "bank_account_type":
			alias = user.Value(sub(m.key, m.raw))
		case "bank_id":
			ca.BankID = sub(m.key, m.raw)
		case "bank_id_type":
			ca.BankIDType = sub(m.key, m.raw)
		default:
			d.problem([]string{"counter_account", m.key}, "is not a field of a counter account", typeUnknownField)
		}
	}
	if alias.Set {
		switch {
		case ca.BankAccountNumberType == "":
			ca.BankAccountNumberType = alias.Value
		case alias.Value != ca.BankAccountNumberType:
			d.invalid = append(d.invalid, user.FieldError{
				Path:    []string{"counter_account", "bank_account_type"},
				Message: "is an alias of bank_account_number_type and must not contradict it",
				Type:    typeMismatch,
			})
		}
	}
	return user.Value(ca)
}
