// libyaml 0.2 from Debian (libyaml-dev): its event parser and emitter. Linked statically (see
// Package.swift), so the release binary needs no libyaml at run time.
#include <yaml.h>
