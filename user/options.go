package user

import (
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/userkit/userkit/query"
)

// Options configure a Service. A nil *Options, and every zero field, means
// the default.
type Options struct {
	// Now is the clock. Default time.Now. Times are stored in UTC with
	// microsecond precision.
	Now func() time.Time
	// NewID returns a new user ID ("U" and a ULID). Default: a monotonic
	// ULID from the current time. IDs must sort in creation order for the
	// default query order to be creation order.
	NewID func() string
	// FeatureFlags is the set of allowed feature flags. Default CONSOLE,
	// ROBO_ADVISOR, SELF_INVESTOR.
	FeatureFlags []string
	// StrictIBAN turns on the IBAN mod-97 checksum for counter accounts of
	// type IBAN. Off by default: the seed's own example account fails it.
	StrictIBAN bool
	// Transitions, when set, decides which status moves are allowed (see
	// OnboardingFlow). Default: any status may follow any other.
	Transitions TransitionPolicy
	// IdentityProvider creates logins for Create with CreateIDPUser. Without
	// one such creates fail with ErrNoIdentityProvider.
	IdentityProvider IdentityProvider
	// MaxRetries bounds how often one call runs its transaction again after
	// a storage conflict before failing with ErrBusy. Default 64.
	MaxRetries int
	// QueryLimits bound the size of queries. Default: query's defaults.
	QueryLimits *query.Limits
	// QueryCacheSize is the number of compiled queries kept, least recently
	// used first out. Default 256; negative disables the cache.
	QueryCacheSize int
	// IndexWalkWindow decides how a query sorted on one field whose index
	// holds every user (status, first_name, last_name) runs: when
	// offset+limit is at most this, by a scan that keeps the first
	// offset+limit matches in a heap; beyond it, by walking the field's
	// index in order. Default DefaultIndexWalkWindow; 1 always walks.
	IndexWalkWindow int
	// IdempotencyTTL is how long an idempotency key answers retries after
	// its first use (see Idempotency). Default DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration
	// ChangeRetention is how long the change feed keeps an event
	// (SweepChanges deletes older ones). Default DefaultChangeRetention.
	ChangeRetention time.Duration
	// FeedPollInterval bounds how long a waiting Changes call goes without
	// looking at the store again: it wakes at once on this Service's
	// commits, and polls for those of other processes sharing the store.
	// Default DefaultFeedPollInterval.
	FeedPollInterval time.Duration
	// OnWrite, when not nil, is called after each read-write call ends
	// its transaction, for metrics: op is "create", "patch", "delete",
	// "restore", "create_group", "patch_group", "delete_group",
	// "restore_group", "sequence_feed", "sweep_changes" or
	// "sweep_idempotency_keys", and the op with "_replayed" appended
	// ("create_replayed", "patch_group_replayed") for a call answered
	// from an idempotency key's earlier result (nothing written); retries is how many storage conflicts it
	// ran again after; err is its result (nil, or an error wrapping
	// ErrBusy, …). It runs on the caller's goroutine and must be quick.
	OnWrite func(op string, retries int, err error)
	// NewGroupID returns a new group ID ("G" and a ULID). Default: a
	// monotonic ULID from the current time.
	NewGroupID func() string
	// StoredGroups makes the stored group memberships count for access:
	// in every transaction that checks a principal that is not an
	// administrator, the live groups its ID is a member of (GroupsOf) join
	// Principal.Groups, read in the same snapshot as the records they
	// guard. So adding a member grants what the group may do, and removing
	// one (or deleting the group) takes it away, from the next transaction
	// on. Off by default: Principal.Groups alone counts, as an
	// authenticator sets it.
	StoredGroups bool
}

// DefaultFeedPollInterval is the default of Options.FeedPollInterval.
const DefaultFeedPollInterval = time.Second

// defaultFeatureFlags are the feature flags allowed when
// Options.FeatureFlags is empty.
var defaultFeatureFlags = []string{"CONSOLE", "ROBO_ADVISOR", "SELF_INVESTOR"}

// DefaultLanguage is the language of a user created without one.
const DefaultLanguage = "en-US"

func newULID() string { return "U" + ulid.Make().String() }

func newGroupULID() string { return "G" + ulid.Make().String() }
