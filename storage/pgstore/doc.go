// Package pgstore is a storage.Store on PostgreSQL, through pgx's pool.
package pgstore
