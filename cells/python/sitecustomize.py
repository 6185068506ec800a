# Loaded by Python before every Python cell's code (Lectern puts this folder on PYTHONPATH), as
# cells/preload.ts is for TypeScript: the side channel to the runner, input() echoed where the
# program reads it, socket errors reported by their errno name (how expect=ECONNREFUSED is
# judged), the loopback guard where cells share the machine's network, and tracebacks that name
# the page instead of the cached copy of the cell.
import os
import sys

_fd = os.environ.pop("LECTERN_CHANNEL", None)
_source = os.environ.pop("LECTERN_SOURCE", None)
_cell_file = os.environ.pop("LECTERN_CELL_FILE", None)
_lifeline = os.environ.pop("LECTERN_LIFELINE", None)
_allow_net = os.environ.pop("LECTERN_ALLOW_NET", None)

if _fd is not None and _fd.isdigit() and int(_fd) > 2:
    import _lectern_boot

    _lectern_boot.install(int(_fd), _source, _cell_file, _lifeline == "1", _allow_net)
