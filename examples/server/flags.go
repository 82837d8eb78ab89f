package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// EnvPrefix starts the name of the environment variable of each flag: the
// flag -metrics-addr is also USERKIT_METRICS_ADDR.
const EnvPrefix = "USERKIT_"

// config is the server's configuration, from flags and the environment.
type config struct {
	addr, data, pg, pgTable    string
	tenant, tokens, configFile string
	logFormat, metricsAddr     string
	noSync                     bool
	drainDelay, sweepInterval  time.Duration
	idempotencyTTL             time.Duration
	webhooks                   string
	given                      map[string]bool // flags set by argument or environment
}

// envName is the environment variable of the flag name.
func envName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags reads args, then the environment for every flag args did not
// set. It returns flag.ErrHelp after printing the usage to out for -h.
func parseFlags(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	fs := newFlagSet(c, out)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := c.fromEnv(fs, getenv); err != nil {
		return nil, err
	}
	return c, nil
}

// newFlagSet returns the server's flags, setting c.
func newFlagSet(c *config, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen `address` of the API, health checks and (without -metrics-addr) metrics; port 0 picks one")
	fs.StringVar(&c.data, "data", "./userkit-data", "Badger `directory`; empty keeps the data in memory. Not with -pg")
	fs.StringVar(&c.pg, "pg", "", "PostgreSQL connection string (`DSN`, URL or key=value form): store the data there instead of Badger,\nso that several servers can share it. Not with -data")
	fs.StringVar(&c.pgTable, "pg-table", "userkit_kv", "PostgreSQL `table` of the store (created on first use); several stores can share a database")
	fs.BoolVar(&c.noSync, "nosync", false, "do not fsync Badger's log at each commit: much faster writes, but a crash of the machine\n(not of the process) can lose the last writes the server acknowledged; the store stays consistent")
	fs.StringVar(&c.tenant, "tenant", "default", "`tenant` of USERKIT_ADMIN_TOKEN, of the generated token and of -tokens entries without one")
	fs.StringVar(&c.tokens, "tokens", "", "JSON `file` mapping static bearer tokens to principals:\n"+
		`{"<token>": {"user_id": "U…", "tenant": "…", "groups": ["G…"], "admin": false}}`+"\nNot with -config")
	fs.StringVar(&c.configFile, "config", "", "JSON `file` of the trusted JWT issuers and their mapping to principals (package jwtauth):\n"+
		"the server then authenticates JWT bearer tokens only, and generates no token. Not with -tokens")
	fs.StringVar(&c.logFormat, "log-format", "text", "`format` of the logs on standard output: text or json")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics on a listener of its own at this `address` (default: on -addr); never behind the API's authentication")
	fs.DurationVar(&c.drainDelay, "drain-delay", 0, "at shutdown, answer /readyz with 503 for this `duration` before closing the listener,\nso that a load balancer stops sending requests first")
	fs.DurationVar(&c.sweepInterval, "sweep-interval", time.Hour, "how often to delete the expired idempotency keys and change events of every known tenant\n(the tenants of -tokens, -config and -tenant); 0 never sweeps")
	fs.DurationVar(&c.idempotencyTTL, "idempotency-ttl", 24*time.Hour, "how long an Idempotency-Key answers retries with its first response")
	fs.StringVar(&c.webhooks, "webhook", "", "deliver the change feed of every known tenant to these `URLs` (comma-separated), signed per Standard Webhooks\n"+
		"(package webhooks): each is registered once per tenant in the store, with the secret USERKIT_WEBHOOK_SECRET\n"+
		"(whsec_…; generated and printed when unset), and resumes from its stored cursor after a restart")
	fs.Usage = func() { usage(fs) }
	return fs
}

// fromEnv sets the flags of fs that its arguments did not set from their
// environment variables, and checks the combination.
func (c *config) fromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	args0 := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { args0[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		v := getenv(env)
		if args0[f.Name] || v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %s", env, v, valueHint(f, err)))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.given[f.Name] = true })
	// Of two exclusive flags, one on the command line wins over the
	// other's variable, as a flag wins over its own: -data DIR runs on
	// Badger even with USERKIT_PG in the environment. Both on the command
	// line, or both in the environment, are an error.
	for _, pair := range [][2]string{{"pg", "data"}, {"config", "tokens"}} {
		for i, name := range pair {
			other := pair[1-i]
			if args0[name] && !args0[other] && c.given[other] {
				f := fs.Lookup(other)
				f.Value.Set(f.DefValue)
				delete(c.given, other)
			}
		}
	}
	switch {
	case c.given["pg"] && c.given["data"]:
		return errors.New("-pg and -data are exclusive: the store is either PostgreSQL or Badger")
	case c.given["pg"] && c.noSync:
		return errors.New("-nosync is for Badger (-data), not -pg")
	case c.given["config"] && c.given["tokens"]:
		return errors.New("-config and -tokens are exclusive: tokens are either JWTs or static")
	case c.logFormat != "text" && c.logFormat != "json":
		return fmt.Errorf("-log-format %q: want text or json", c.logFormat)
	case c.sweepInterval < 0:
		return fmt.Errorf("-sweep-interval %v: want 0 (off) or a positive duration", c.sweepInterval)
	case c.idempotencyTTL <= 0:
		return fmt.Errorf("-idempotency-ttl %v: want a positive duration", c.idempotencyTTL)
	}
	return nil
}

// valueHint says what a flag's value should look like.
func valueHint(f *flag.Flag, err error) string {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "want 1 or 0 (true or false)"
	}
	if _, ok := f.Value.(flag.Getter).Get().(time.Duration); ok {
		return "want a duration such as 90s, 15m or 1h"
	}
	return err.Error()
}

// usage prints the -h text: every flag with its environment variable and
// default, and the variables that are not flags.
func usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, `Usage: server [flags]

Serves the userkit REST API (/users/, /openapi.json), health checks (/healthz,
/readyz) and Prometheus metrics (/metrics). Every flag can also be set by an
environment variable, USERKIT_ and the flag's name in upper case with _ for -
(USERKIT_METRICS_ADDR for -metrics-addr); a flag on the command line wins over
its variable and over the variable of a flag it excludes (-data DIR over
USERKIT_PG), and an empty variable counts as unset.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		name, text := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  -%s", f.Name)
		if name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		def := f.DefValue
		if _, ok := f.Value.(flag.Getter).Get().(string); ok {
			def = fmt.Sprintf("%q", def)
		}
		fmt.Fprintf(w, "\n      env %s, default %s\n", envName(f.Name), def)
		for line := range strings.SplitSeq(text, "\n") {
			fmt.Fprintf(w, "      %s\n", line)
		}
	})
	fmt.Fprint(w, `
Environment variables that are not flags:
  USERKIT_ADMIN_TOKEN
      a static bearer token for an administrator of -tenant (principal ID
      `+AdminID+`). Without it, -tokens and -config, the server
      generates one and prints it. Not with -config.

SIGINT or SIGTERM stops the server: /readyz answers 503 (for -drain-delay),
the listener closes, requests in flight get up to 10s, then the store closes.
`)
}
