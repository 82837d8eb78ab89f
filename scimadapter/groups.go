package scimadapter

import "net/http"

// groupsSupported reports whether /Groups is served and advertised.
const groupsSupported = false

func (h *handler) matchGroups(method string, segs []string) (route, error, bool) {
	return nil, nil, false
}

func (h *handler) groupsOf(r *request, id string) ([]any, error) { return nil, nil }

func groupSchemaDoc() object { return nil }

var _ = http.StatusOK
