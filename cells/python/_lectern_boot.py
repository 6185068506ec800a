# What sitecustomize installs in a Python cell run by Lectern. Kept apart so that Python run
# outside Lectern with this folder on its path loads nothing more than sitecustomize itself.
import builtins
import errno
import io
import os
import sys

_channel = None
_counts = {"stdout": 0, "stderr": 0}
# What --allow-net named, where the cells have no network namespace; None: no guard.
_allowed = None


def send(message):
    """One JSON line on the side channel, written whole before the program goes on."""
    global _channel
    if _channel is None:
        return
    import json  # on first use: most cells never send anything

    data = (json.dumps(message) + "\n").encode()
    try:
        while data:
            data = data[os.write(_channel, data):]
    except OSError:
        # The runner is gone: the program goes on as it would without Lectern.
        _channel = None


class _Counted(io.RawIOBase):
    """A raw writer on fd 1 or 2 that counts bytes, so an echo lands right after its prompt."""

    def __init__(self, fd, name):
        self._fd, self._name = fd, name

    def writable(self):
        return True

    def fileno(self):
        return self._fd

    def isatty(self):
        return False

    def write(self, b):
        n = os.write(self._fd, b)
        _counts[self._name] += n
        return n


def _stream(fd, name, old):
    # write_through as with python -u: every print is on the pipe before the next line runs.
    return io.TextIOWrapper(_Counted(fd, name), encoding=old.encoding, errors=old.errors, write_through=True)


def _input(prompt=""):
    """builtins.input, with the line echoed into the transcript where it was read, as a terminal shows it."""
    if prompt:
        sys.stdout.write(str(prompt))
    line = sys.stdin.readline()
    if line == "":
        raise EOFError("EOF when reading a line")
    send({"type": "input", "text": line if line.endswith("\n") else line + "\n", "stdout": _counts["stdout"], "stderr": _counts["stderr"]})
    return line[:-1] if line.endswith("\n") else line


def _report(err):
    code = errno.errorcode.get(getattr(err, "errno", None) or 0)
    if code is not None:
        send({"type": "error", "code": code})


def _guard(address):
    """The loopback guard of cells/guard.ts: a connection or datagram to another host is refused,
    unless --allow-net named it. Against mistakes, not a wall (a child process is not held)."""
    if _allowed is None or not isinstance(address, tuple) or len(address) < 2:
        return
    host, number = str(address[0]).strip("[]").lower(), address[1]
    if host in ("localhost", "::1", "::ffff:127.0.0.1") or (host.startswith("127.") and host.count(".") == 3):
        return
    if host in _allowed or f"{host}:{number}" in _allowed:
        return
    err = PermissionError(errno.EACCES, f"connect EACCES {host}:{number}: Lectern lets cells reach only loopback; run with --allow-net={host} to allow it")
    _report(err)
    raise err


_SOCKET_CALLS = ("connect", "connect_ex", "bind", "listen", "accept", "send", "sendall", "sendto", "recv", "recvfrom", "recv_into")
# The calls after which a socket has its own address, to be named to the trace once.
_NAMING_CALLS = ("connect", "connect_ex", "bind", "sendto")


def _observe_socket(module):
    """Reports every OSError a socket call raises, handled or not, as the TypeScript preload does,
    and names each socket's own address once it has one: the wire trace then knows this cell's
    end of a connection, even one that lasted less than a look at the socket tables."""
    # The sockets already named, by id, each with a weak reference that forgets it when it goes:
    # _weakref is built in, where importing weakref (for a WeakSet) costs about a millisecond.
    import _weakref

    named = {}

    def name(sock):
        seen = named.get(id(sock))
        if seen is not None and seen() is sock:
            return
        try:
            host, number = sock.getsockname()[:2]
            kind = sock.type
        except (OSError, ValueError, TypeError):
            return
        if number == 0 or kind not in (module.SOCK_STREAM, module.SOCK_DGRAM):
            return
        named[id(sock)] = _weakref.ref(sock, lambda _, key=id(sock): named.pop(key, None))
        if host.startswith("::ffff:") and "." in host:
            host = host[7:]
        local = f"[{host}]:{number}" if ":" in host else f"{host}:{number}"
        send({"type": "socket", "proto": "tcp" if kind == module.SOCK_STREAM else "udp", "local": local})

    def wrap(call, names):
        def observed(self, *args, **kwargs):
            if call.__name__ in ("connect", "connect_ex", "sendto") and args:
                _guard(args[-1])
            try:
                result = call(self, *args, **kwargs)
            except OSError as err:
                _report(err)
                if names and isinstance(err, ConnectionRefusedError):
                    name(self)
                raise
            if names:
                name(self)
            return result

        observed.__name__ = call.__name__
        observed.__doc__ = call.__doc__
        return observed

    for call_name in _SOCKET_CALLS:
        call = getattr(module.socket, call_name, None)
        if call is not None:
            setattr(module.socket, call_name, wrap(call, call_name in _NAMING_CALLS))


class _SocketHook:
    """Observes `socket` when the program first imports it: a cell without sockets pays nothing."""

    def find_spec(self, name, path=None, target=None):
        if name != "socket":
            return None
        sys.meta_path.remove(self)
        # The finders after this one, asked directly: importlib.util would cost more than socket itself.
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module):
            run(module)
            _observe_socket(module)

        loader.exec_module = exec_module
        return spec


def _excepthook(source, cell_file):
    def hook(kind, value, tb):
        if isinstance(value, OSError):
            _report(value)
        import traceback

        top = traceback.TracebackException(kind, value, tb)
        # Lectern's own wrappers of socket calls are not the student's code: left out.
        shown, seen = top, set()
        while shown is not None and id(shown) not in seen:
            seen.add(id(shown))
            shown.stack = traceback.StackSummary.from_list([f for f in shown.stack if f.filename != __file__])
            shown = shown.__cause__ or shown.__context__
        text = "".join(top.format())
        # The cell's cached copy has the page's line numbers: name the page too.
        if source and cell_file:
            text = text.replace(f'File "{cell_file}"', f'File "{source}"')
        sys.stderr.write(text)
        sys.stderr.flush()

    return hook


def _die_with_lectern(fd):
    """Unconfined, nothing ends the cell if Lectern is killed: its side channel closing does."""
    import signal
    import threading

    reader = os.dup(fd)
    os.set_inheritable(reader, False)

    def wait():
        try:
            while os.read(reader, 512):
                pass
        except OSError:
            pass
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=wait, daemon=True).start()


def install(fd, source, cell_file, lifeline, allow_net=None):
    global _channel, _allowed
    if allow_net is not None:
        _allowed = [h.lower() for h in allow_net.split(",") if h]
    # The program's children never write into the channel: it is not inherited.
    os.set_inheritable(fd, False)
    _channel = fd
    # Lectern's sandbox starts cells with SIGTERM ignored (for bwrap's sake) and Python keeps an
    # ignored signal ignored: back to the default, so Lectern's SIGTERM ends the cell at once.
    import _signal

    _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
    sys.stdout = _stream(1, "stdout", sys.stdout)
    sys.stderr = _stream(2, "stderr", sys.stderr)
    builtins.input = _input
    sys.meta_path.insert(0, _SocketHook())
    sys.excepthook = _excepthook(source, cell_file)
    if lifeline:
        _die_with_lectern(fd)
