package pgstore

// SetBeforeCommit makes s call f with the backend's PID just before it
// sends the batch that carries a read-write transaction's COMMIT.
func SetBeforeCommit(s *Store, f func(pid uint32)) { s.beforeCommit = f }

// TableName returns the quoted name of s's table.
func TableName(s *Store) string { return s.table }
