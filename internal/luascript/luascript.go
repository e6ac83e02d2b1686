// Package luascript holds the executor's Lua scripts, so that the executor
// runs them and redisinstr names them (db.stored_procedure.name of an
// EVALSHA) from the one embedded set, with nothing registered at run time.
package luascript

import (
	"embed"
	"io/fs"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed *.lua
var files embed.FS

// Prelude is prepended to every script: the Lua definitions all scripts
// share (the one definition of a stored pod ID). It is not a script itself.
const Prelude = "prelude.lua"

// Source returns the file's text; a script's is the prelude followed by
// the script. It panics on a name that is not embedded: a build defect.
func Source(file string) string {
	src, err := files.ReadFile(file)
	if err != nil {
		panic("luascript: missing embedded script " + file)
	}
	if file == Prelude {
		return string(src)
	}
	return Source(Prelude) + string(src)
}

// names maps the SHA1 of each script, as Redis caches it, to the script's
// name (its file name without .lua). Other clients' scripts stay unnamed.
var names = func() map[string]string {
	m := make(map[string]string)
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		if e.Name() != Prelude {
			m[redis.NewScript(Source(e.Name())).Hash()] = strings.TrimSuffix(e.Name(), ".lua")
		}
	}
	return m
}()

// Name returns the name of the script whose SHA1 is sha, "" if it is not
// one of the executor's.
func Name(sha string) string { return names[sha] }
