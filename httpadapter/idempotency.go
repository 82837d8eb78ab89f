package httpadapter

import (
	"net/http"

	"github.com/userkit/userkit/user"
)

// idempotency returns the user.Idempotency of a request's Idempotency-Key
// header (draft-ietf-httpapi-idempotency-key-header: a structured-field
// string, "…"), or nil without one. The fingerprint is the method, the
// path and query, and the body, so a retry must be the same request; the
// same key with another request is 422. The key is 1 to 255 printable
// ASCII characters; a bare token is accepted as well as a quoted string.
func idempotency(r *http.Request, body []byte) (*user.Idempotency, error) {
	vs := r.Header.Values("Idempotency-Key")
	if len(vs) == 0 {
		return nil, nil
	}
	bad := &requestError{status: http.StatusBadRequest, fields: []fieldProblem{{Loc: []string{"header", "Idempotency-Key"},
		Msg: `must be one quoted string of 1 to 255 printable ASCII characters, such as "8e03978e-40d5-43e8-bc93-6894a57f9324"`, Type: typeBadParam}}}
	if len(vs) != 1 {
		return nil, bad
	}
	key := trimSpace(vs[0])
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
	}
	if len(key) == 0 || len(key) > 255 {
		return nil, bad
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return nil, bad
		}
	}
	fp := make([]byte, 0, len(r.Method)+len(r.URL.RequestURI())+len(body)+2)
	fp = append(fp, r.Method...)
	fp = append(fp, 0)
	fp = append(fp, r.URL.RequestURI()...)
	fp = append(fp, 0)
	fp = append(fp, body...)
	return &user.Idempotency{Key: key, Fingerprint: fp}, nil
}
