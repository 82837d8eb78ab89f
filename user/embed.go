package user

import (
	"fmt"
	"slices"

	"github.com/userkit/userkit/storage"
)

// embedFields are the reference fields whose users can be embedded.
var embedFields = []string{"version_authored_by_user_id", "readable_by", "modifiable_by"}

// EmbedFields returns the reference fields that QueryOptions.Embed and
// GetOptions.Embed accept: the fields whose values are entity IDs.
func EmbedFields() []string { return slices.Clone(embedFields) }

// checkEmbed returns ErrInvalid unless every field is a reference field.
func checkEmbed(fields []string) error {
	for _, f := range fields {
		if !slices.Contains(embedFields, f) {
			return fmt.Errorf("%w: embed: %q is not a reference field (one of %v)", ErrInvalid, f, embedFields)
		}
	}
	return nil
}

// embedded returns the users that fields of users reference, as Get would
// return them to pr (readable and not deleted), sorted by ID, each once,
// read in tx with one batched read. Group IDs and users that are gone or
// that pr may not read are left out.
func embedded(tx storage.Tx, pr *Principal, users []*User, fields []string) ([]*User, error) {
	if len(fields) == 0 || len(users) == 0 {
		return nil, nil
	}
	var ids []string
	for _, u := range users {
		for _, f := range fields {
			switch f {
			case "version_authored_by_user_id":
				ids = append(ids, u.VersionAuthoredByUserID)
			case "readable_by":
				ids = append(ids, u.ReadableBy...)
			case "modifiable_by":
				ids = append(ids, u.ModifiableBy...)
			}
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	ids = slices.DeleteFunc(ids, func(id string) bool { return !ValidID(id) })
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = headKey(pr.Tenant, id)
	}
	values, err := storage.GetMany(tx, keys)
	if err != nil {
		return nil, err
	}
	var out []*User
	for _, b := range values {
		if b == nil {
			continue
		}
		u, err := decode(b)
		if err != nil {
			return nil, err
		}
		if !u.Deleted && pr.canRead(u) {
			out = append(out, u)
		}
	}
	return out, nil
}
