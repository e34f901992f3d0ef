// Hooks the sanitizers call when megaplan-fleet is built with --sanitize=thread (see hooks.c).
// Nothing here is meant to be called from Swift.
#pragma once
