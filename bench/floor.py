"""The heartbeat benchmark's baseline: the least a WSGI app can do for a heartbeat (read the
request, answer 204), served by the same gunicorn on the same loopback. Its latency at the same
fixed rate is the machine's floor (process wake-ups, the loopback, gunicorn), measured in the
same run: what the project adds is the difference."""


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("204 No Content", [])
    return [b""]
