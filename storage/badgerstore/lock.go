package badgerstore

// lockName is the file in a Store's directory that Open locks before it
// hands the directory to Badger, and Close unlocks. The file is created if
// it is missing and never removed: removing a lock file is a race with the
// next Open.
const lockName = "userkit.lock"
