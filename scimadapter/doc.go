// Package scimadapter is a SCIM 2.0 service provider (RFC 7643, RFC 7644)
// over a user.Service: an http.Handler that identity providers such as
// Okta and Microsoft Entra ID provision users through.
package scimadapter
