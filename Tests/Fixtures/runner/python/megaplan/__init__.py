"""Stand-in for the parts of core megaplan that the supervisor imports (cloud reference §11.2).

With MEGAPLAN_STUB_IMPORT_CPU=<seconds> in the environment, importing it first burns that much
CPU, as importing the real megaplan does (about 0.5 s): the fleet benchmark sets it on its
runners; tests leave it unset."""
import os as _os
import time as _time


def _burn(seconds):
    end = _time.process_time() + seconds
    while _time.process_time() < end:
        pass


try:
    _burn(float(_os.environ.get("MEGAPLAN_STUB_IMPORT_CPU") or 0))
except ValueError:
    pass
