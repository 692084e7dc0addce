"""Streaming scenarios driven with the official Python client
(`pip install kubernetes`), run by e2e/tests/streaming_python.rs.

Usage: kube_stream.py KUBECONFIG SCENARIO POD [ARG]

Each scenario prints what it observed as one JSON object on stdout and
exits 0; an unexpected observation is an assertion error (exit 1). Every
wait has a timeout, so a server that never answers fails the scenario
instead of hanging it.
"""

import http.client
import json
import sys

from kubernetes import client, config
from kubernetes.stream import portforward, stream

WAIT = 30  # seconds for any single answer
# Echoes stdin line by line, as it comes.
ECHO_LINES = 'while read -r l; do echo "$l"; done'


def api(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    return client.CoreV1Api()


def exec_session(core, pod, command):
    return stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        "default",
        command=command,
        stdin=True,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )


def interactive_shell(core, pod, _arg):
    """An interactive /bin/sh: str stdin goes out in TEXT frames, bytes in
    BINARY ones; both are answered. `exit 3` ends it with that status."""
    resp = exec_session(core, pod, ["/bin/sh"])
    resp.write_stdin("echo text-$((40+2))\n")
    text = resp.readline_stdout(timeout=WAIT)
    resp.write_stdin(b"echo bytes-$((6*7))\n")
    binary = resp.readline_stdout(timeout=WAIT)
    resp.write_stdin("echo oops >&2; exit 3\n")
    resp.run_forever(timeout=WAIT)
    assert text == "text-42", repr(text)
    assert binary == "bytes-42", repr(binary)
    assert not resp.is_open(), "the session did not end after exit"
    return {
        "text": text,
        "binary": binary,
        "stderr": resp.read_stderr(),
        "returncode": resp.returncode,
        "subprotocol": resp.subprotocol,
    }


def close_stdin(core, pod, _arg):
    """v5 CLOSE for stdin ends the command's input: the read loop ends,
    the command exits 5, and the session ends with that status."""
    resp = exec_session(core, pod, ["sh", "-c", ECHO_LINES + "; echo after-eof; exit 5"])
    resp.write_stdin("line one\n")
    first = resp.readline_stdout(timeout=WAIT)
    resp.close_channel(0)
    after = resp.readline_stdout(timeout=WAIT)
    resp.run_forever(timeout=WAIT)
    assert first == "line one", repr(first)
    assert after == "after-eof", repr(after)
    assert not resp.is_open(), "the session did not end after stdin closed"
    return {"first": first, "after": after, "returncode": resp.returncode}


def close_session(core, pod, marker):
    """resp.close() after write_stdin: the client closes the WebSocket; the
    server answers the close handshake and ends the command (whose $0 is
    `marker`, for the test to look for)."""
    resp = exec_session(core, pod, ["sh", "-c", ECHO_LINES, marker])
    resp.write_stdin("ping\n")
    echoed = resp.readline_stdout(timeout=WAIT)
    # Close as websocket-client does (close frame, then wait for the
    # server's), but without a time limit: only the server's close frame or
    # the end of the connection lets this return.
    resp.sock.close(timeout=None)
    assert echoed == "ping", repr(echoed)
    return {"echoed": echoed, "connected": resp.sock.connected}


def port_forward(core, pod, refused_port):
    """Port-forward over WebSocket with the client's raw-socket API: an
    HTTP request through port 80 and the error of a port nothing listens
    on, both in one session (the client checks the port prefix of the
    first frame on every channel)."""
    refused = int(refused_port)
    pf = portforward(
        core.connect_get_namespaced_pod_portforward,
        pod,
        "default",
        ports="80,%d" % refused,
    )
    web = pf.socket(80)
    web.settimeout(WAIT)
    conn = http.client.HTTPConnection("localhost", 80, timeout=WAIT)
    conn.sock = web
    conn.request("GET", "/")
    reply = conn.getresponse()
    body = reply.read().decode()
    status = reply.status
    closed = pf.socket(refused)
    closed.settimeout(WAIT)
    eof = closed.recv(1)
    error = pf.error(refused)
    web_error = pf.error(80)
    conn.close()
    assert status == 200, status
    assert "Welcome to nginx!" in body, body
    assert eof == b"", repr(eof)
    assert error and "connection refused" in error, repr(error)
    assert web_error is None, repr(web_error)
    return {"status": status, "error": error}


SCENARIOS = {
    "interactive-shell": interactive_shell,
    "close-stdin": close_stdin,
    "close-session": close_session,
    "port-forward": port_forward,
}


def main():
    kubeconfig, scenario, pod = sys.argv[1:4]
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    result = SCENARIOS[scenario](api(kubeconfig), pod, arg)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
