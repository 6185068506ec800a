"""The module Python cells import as `lectern`: the page's named ports and keyboard input,
with the meaning they have in TypeScript cells (cells/lectern.ts). Outside Lectern, port()
reads LECTERN_PORT_<NAME> or returns its fallback, and input() reads the terminal."""
import builtins
import os
import re


def _env_name(name):
    return "LECTERN_PORT_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def port(name, fallback=None):
    """The page's port called `name`: one number shared by every cell that names it.
    Lectern finds port names before running, so pass the name as a string literal."""
    raw = os.environ.get(_env_name(name), "")
    if raw != "":
        if raw.isdigit() and 0 < int(raw) < 65536:
            return int(raw)
        raise ValueError(f"{_env_name(name)}={raw} is not a port number (1-65535)")
    if fallback is not None:
        return fallback
    raise LookupError(f'port("{name}") has no number: run this under Lectern, set {_env_name(name)}, or pass a fallback: port("{name}", 12000)')


def host(name, fallback=None):
    """The address of the page's network host `name` (its ```network block). Outside Lectern it
    reads LECTERN_HOST_<NAME> or returns its fallback."""
    var = "LECTERN_HOST_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
    raw = os.environ.get(var, "")
    if raw != "":
        return raw
    if fallback is not None:
        return fallback
    raise LookupError(f'host("{name}") has no address: run this under Lectern on a page with that host, set {var}, or pass a fallback: host("{name}", "127.0.0.1")')


def input(prompt=""):
    """Like Python's input(): the prompt, then one line. Under Lectern the line is echoed into
    the transcript where it was read, as a terminal would show it."""
    return builtins.input(prompt)
