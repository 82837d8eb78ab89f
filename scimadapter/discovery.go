package scimadapter

import (
	"net/http"
	"strings"
)

// This file serves discovery (RFC 7644 §4): /ServiceProviderConfig,
// /ResourceTypes and /Schemas describe exactly what the adapter stores
// and accepts, and nothing it does not.

func (h *handler) serviceProviderConfig(w http.ResponseWriter, r *request) error {
	writeSCIM(w, http.StatusOK, object{
		{"schemas", []any{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}},
		{"documentationUri", "https://pkg.go.dev/github.com/userkit/userkit/scimadapter"},
		{"patch", object{{"supported", true}}},
		{"bulk", object{{"supported", false}, {"maxOperations", 0}, {"maxPayloadSize", 0}}},
		{"filter", object{{"supported", true}, {"maxResults", MaxResults}}},
		{"changePassword", object{{"supported", false}}},
		{"sort", object{{"supported", true}}},
		{"etag", object{{"supported", true}}},
		{"authenticationSchemes", []any{object{
			{"type", "oauthbearertoken"},
			{"name", "OAuth Bearer Token"},
			{"description", "Authentication with a bearer token: Authorization: Bearer <token>"},
			{"primary", true},
		}}},
		{"meta", object{{"resourceType", "ServiceProviderConfig"}, {"location", r.baseURL() + "/ServiceProviderConfig"}}},
	})
	return nil
}

func (h *handler) resourceTypeList(r *request) []object {
	types := []object{{
		{"schemas", []any{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}},
		{"id", "User"},
		{"name", "User"},
		{"endpoint", "/Users"},
		{"description", "A userkit user"},
		{"schema", userSchema},
		{"meta", object{{"resourceType", "ResourceType"}, {"location", r.baseURL() + "/ResourceTypes/User"}}},
	}}
	if groupsSupported {
		types = append(types, object{
			{"schemas", []any{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}},
			{"id", "Group"},
			{"name", "Group"},
			{"endpoint", "/Groups"},
			{"description", "A userkit group"},
			{"schema", groupSchema},
			{"meta", object{{"resourceType", "ResourceType"}, {"location", r.baseURL() + "/ResourceTypes/Group"}}},
		})
	}
	return types
}

func (h *handler) resourceTypes(rest []string) route {
	return func(w http.ResponseWriter, r *request) error {
		return writeDiscovery(w, h.resourceTypeList(r), rest)
	}
}

func (h *handler) schemas(rest []string) route {
	return func(w http.ResponseWriter, r *request) error {
		list := []object{withMeta(userSchemaDoc(), r, "Schema", "/Schemas/"+userSchema)}
		if groupsSupported {
			list = append(list, withMeta(groupSchemaDoc(), r, "Schema", "/Schemas/"+groupSchema))
		}
		return writeDiscovery(w, list, rest)
	}
}

func withMeta(o object, r *request, typ, path string) object {
	return append(o, member{"meta", object{{"resourceType", typ}, {"location", r.baseURL() + path}}})
}

// writeDiscovery answers a discovery collection as a ListResponse, or
// one of its members by id.
func writeDiscovery(w http.ResponseWriter, list []object, rest []string) error {
	if len(rest) == 1 && rest[0] != "" {
		for _, o := range list {
			if id, _ := o.get("id"); id == rest[0] || strings.EqualFold(id.(string), rest[0]) {
				writeSCIM(w, http.StatusOK, o)
				return nil
			}
		}
		return &scimError{status: http.StatusNotFound, detail: "no such " + "resource: " + rest[0]}
	}
	res := make([]any, len(list))
	for i, o := range list {
		res[i] = o
	}
	writeSCIM(w, http.StatusOK, object{
		{"schemas", []any{listSchema}},
		{"totalResults", len(list)},
		{"itemsPerPage", len(list)},
		{"startIndex", 1},
		{"Resources", res},
	})
	return nil
}

// attrDef describes one attribute in /Schemas.
type attrDef struct {
	name, typ, desc        string
	multi, required, exact bool
	mutability, returned   string
	uniqueness             string
	canonical              []string
	refTypes               []string
	sub                    []attrDef
}

func (a attrDef) object() object {
	o := object{
		{"name", a.name},
		{"type", a.typ},
		{"multiValued", a.multi},
		{"description", a.desc},
		{"required", a.required},
	}
	if a.typ == "string" || a.typ == "reference" {
		o = append(o, member{"caseExact", a.exact})
	}
	if a.canonical != nil {
		c := make([]any, len(a.canonical))
		for i, v := range a.canonical {
			c[i] = v
		}
		o = append(o, member{"canonicalValues", c})
	}
	if a.refTypes != nil {
		c := make([]any, len(a.refTypes))
		for i, v := range a.refTypes {
			c[i] = v
		}
		o = append(o, member{"referenceTypes", c})
	}
	mut := a.mutability
	if mut == "" {
		mut = "readWrite"
	}
	ret := a.returned
	if ret == "" {
		ret = "default"
	}
	uniq := a.uniqueness
	if uniq == "" {
		uniq = "none"
	}
	o = append(o, member{"mutability", mut}, member{"returned", ret}, member{"uniqueness", uniq})
	if a.sub != nil {
		subs := make([]any, len(a.sub))
		for i, s := range a.sub {
			subs[i] = s.object()
		}
		o = append(o, member{"subAttributes", subs})
	}
	return o
}

func schemaDoc(id, name, desc string, attrs []attrDef) object {
	list := make([]any, len(attrs))
	for i, a := range attrs {
		list[i] = a.object()
	}
	return object{
		{"schemas", []any{"urn:ietf:params:scim:schemas:core:2.0:Schema"}},
		{"id", id},
		{"name", name},
		{"description", desc},
		{"attributes", list},
	}
}

// userAttrDefs are the User attributes the adapter keeps.
func userAttrDefs() []attrDef {
	defs := []attrDef{
		{name: "userName", typ: "string", required: true, mutability: "immutable", uniqueness: "server",
			desc: "The user's email address (userkit's email): unique case-insensitively, set once and never changed."},
		{name: "externalId", typ: "string", exact: true, uniqueness: "server",
			desc: "The provisioning client's identifier (userkit's external_id), at most 64 characters, unique."},
		{name: "name", typ: "complex", desc: "The user's name.", sub: []attrDef{
			{name: "givenName", typ: "string", desc: "First name (userkit's first_name), at most 128 characters."},
			{name: "familyName", typ: "string", desc: "Last name (userkit's last_name), at most 128 characters."},
		}},
		{name: "emails", typ: "complex", multi: true, desc: "The user's one email address, the userName; at most one value.", sub: []attrDef{
			{name: "value", typ: "string", mutability: "immutable", uniqueness: "server", desc: "The address; equal to userName."},
			{name: "type", typ: "string", canonical: []string{"work"}, mutability: "readOnly", desc: "Always work."},
			{name: "primary", typ: "boolean", mutability: "readOnly", desc: "Always true."},
		}},
		{name: "phoneNumbers", typ: "complex", multi: true, desc: "The user's one phone number (userkit's phone); at most one value.", sub: []attrDef{
			{name: "value", typ: "string", exact: true, mutability: "immutable", uniqueness: "server",
				desc: "E.164 (+ and 8 to 16 digits), unique, set once and never changed."},
			{name: "type", typ: "string", canonical: []string{phoneType}, mutability: "readOnly", desc: "Always " + phoneType + "."},
			{name: "primary", typ: "boolean", mutability: "readOnly", desc: "Always true."},
		}},
		{name: "preferredLanguage", typ: "string", exact: true,
			desc: "A BCP 47 language tag (userkit's language), default en-US; removing it restores the default."},
		{name: "active", typ: "boolean",
			desc: "True when userkit's status is ACTIVE. Setting false moves an ACTIVE user to INACTIVE; setting true moves any user to ACTIVE."},
	}
	if groupsSupported {
		defs = append(defs, attrDef{name: "groups", typ: "complex", multi: true, mutability: "readOnly",
			desc: "The groups the user is a member of; change them through /Groups.", sub: []attrDef{
				{name: "value", typ: "string", exact: true, mutability: "readOnly", desc: "The group's id."},
				{name: "$ref", typ: "reference", exact: true, refTypes: []string{"Group"}, mutability: "readOnly", desc: "The group's URI."},
				{name: "display", typ: "string", mutability: "readOnly", desc: "The group's displayName."},
			}})
	}
	return defs
}

func userSchemaDoc() object {
	return schemaDoc(userSchema, "User", "A userkit user", userAttrDefs())
}
